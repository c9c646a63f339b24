# negotiator: an Ansible connection to a KVM/QEMU guest over negotiator's
# virtio-serial channels, for guests that have no network.
#
# Every call is one negotiator-host process on the host that runs the guest
# (this machine, or negotiator_host through ssh): exec_command is the
# guest's `sh` command with Ansible's data on its standard input, put_file
# and fetch_file are --copy (the guest's `put` and `get`).  Nothing stays
# open between calls; the host daemon holds the channels.
#
# Errors, as Ansible sees them:
#   negotiator itself failed (exit 125: no such guest, not connected, not
#   answering, no daemon), or the guest has not enabled sh, put or get
#   (exit 127 with negotiator-host's "no such command" line): UNREACHABLE
#   (AnsibleConnectionFailure) with negotiator-host's own message and the
#   command line that failed, or the command that enables what is missing;
#   anything else is the command's own status, stdout and stderr, which
#   Ansible reports as the module's (FAILED with rc, stdout, stderr).
# Ansible's task `timeout:` ends the negotiator-host process, which makes
# the guest end the command's process group.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
    name: negotiator
    short_description: run tasks in a KVM/QEMU guest over negotiator's virtio-serial channels
    description:
        - Runs commands and copies files into a guest of this host (or of
          the host named by C(negotiator_host), through ssh) over
          negotiator's two virtio-serial channels; the guest needs no
          network, no ssh and no qemu-ga.
        - The guest must have enabled the management commands once, as
          root there C(negotiator-guest --enable sh put get); until it has,
          the host is UNREACHABLE with that command in the message.
        - Commands run as the guest daemon's user (root); C(become) works
          through sudo (or any become method) inside the guest.
    author: negotiator
    version_added: "2.14"
    extends_documentation_fragment:
        - connection_pipelining
    options:
      remote_addr:
        description: The guest's name, as C(negotiator-host -g) lists it.
        default: inventory_hostname
        vars:
          - name: inventory_hostname
          - name: ansible_host
          - name: negotiator_guest
      negotiator_host:
        description:
          - The host that runs the guest, reached with C(ssh) (its user
            and options as for ssh, e.g. C(root@kvm1)); negotiator-host
            runs there.  Unset, this machine.
        default: ''
        vars:
          - name: negotiator_host
        env:
          - name: NEGOTIATOR_HOST
      negotiator_ssh:
        description: The ssh command and its options, split like a shell, for C(negotiator_host).
        default: ssh
        vars:
          - name: negotiator_ssh
        env:
          - name: NEGOTIATOR_SSH
      negotiator_command:
        description: The negotiator-host program, on the host that runs the guest.
        default: negotiator-host
        vars:
          - name: negotiator_command
        env:
          - name: NEGOTIATOR_COMMAND
      negotiator_local_command:
        description:
          - This machine's negotiator-host, which writes and reads the copy
            stream of put_file and fetch_file when C(negotiator_host) is set.
        default: negotiator-host
        vars:
          - name: negotiator_local_command
        env:
          - name: NEGOTIATOR_LOCAL_COMMAND
      negotiator_args:
        description: More options for every negotiator-host call, split like a shell (e.g. C(--control /run/x.sock)).
        default: ''
        vars:
          - name: negotiator_args
        env:
          - name: NEGOTIATOR_ARGS
      negotiator_timeout:
        description:
          - Seconds after which a command in the guest is killed
            (negotiator-host -t); 0, the default, is none.  Ansible's
            task C(timeout) works either way.
        default: 0
        type: int
        vars:
          - name: negotiator_timeout
      timeout:
        description:
          - Seconds to wait for the guest to answer a ping before a task
            (Ansible's connection timeout); a guest that does not is
            UNREACHABLE.
        default: 10
        type: int
        ini:
          - section: defaults
            key: timeout
        env:
          - name: ANSIBLE_TIMEOUT
        vars:
          - name: ansible_timeout
'''

import os
import shlex
import subprocess
import tempfile

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils._text import to_bytes, to_native, to_text
from ansible.module_utils.compat import selectors
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# negotiator-host's statuses for its own failures (negotiator-host(8)).
EXIT_FAILED = 125
EXIT_NOCMD = 127


class Connection(ConnectionBase):
    ''' Guests over negotiator's virtio-serial channels '''

    transport = 'negotiator'
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self._guest = None

    def _argv(self, args):
        '''negotiator-host ARGS as an argv for this machine: direct, or
        through ssh to negotiator_host (where the words are one shell
        command line, each quoted).'''
        argv = [self.get_option('negotiator_command')]
        argv += shlex.split(self.get_option('negotiator_args') or '')
        argv += args
        remote = self.get_option('negotiator_host')
        if not remote:
            return argv
        ssh = shlex.split(self.get_option('negotiator_ssh') or 'ssh')
        return ssh + ['-o', 'BatchMode=yes', '-e', 'none', remote, '--',
                      ' '.join(shlex.quote(a) for a in argv)]

    def _where(self):
        remote = self.get_option('negotiator_host')
        return 'guest %s%s' % (self._guest, ' on ' + remote if remote else '')

    def _run(self, args, in_data=None, stdin_null=False):
        '''Runs negotiator-host ARGS; (rc, stdout, stderr, argv).  Any
        exception on the way (Ansible's task timeout is one) ends the
        process first, which ends the command in the guest.'''
        argv = self._argv(args)
        display.vvv(u'NEGOTIATOR %s' % ' '.join(shlex.quote(to_text(a)) for a in argv),
                    host=self._guest)
        try:
            p = subprocess.Popen([to_bytes(a, errors='surrogate_or_strict') for a in argv],
                                 stdin=subprocess.DEVNULL if stdin_null else subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise AnsibleConnectionFailure('%s: cannot run %s: %s' % (
                self._where(), argv[0], to_native(e)))
        try:
            if self._become_needs_password():
                self._send_become_password(p)
            out, err = p.communicate(in_data)
        except BaseException:
            p.kill()
            p.wait()
            raise
        return p.returncode, out, err, argv

    def _become_needs_password(self):
        return (self._sudoable and self.become is not None and
                self.become.expect_prompt())

    def _send_become_password(self, p):
        '''Waits for the become method's prompt (or its success) on the
        command's output and answers it with the password, as Ansible's
        local connection does; bounded by the connection timeout.'''
        seen = b''
        sel = selectors.DefaultSelector()
        for f in (p.stdout, p.stderr):
            os.set_blocking(f.fileno(), False)
            sel.register(f, selectors.EVENT_READ)
        try:
            while not (self.become.check_success(seen) or
                       self.become.check_password_prompt(seen)):
                events = sel.select(self.get_option('timeout'))
                if not events:
                    raise AnsibleError('%s: timeout waiting for the privilege escalation prompt: %s'
                                       % (self._where(), to_native(seen)))
                for key, _ in events:
                    chunk = key.fileobj.read()
                    if not chunk:
                        raise AnsibleError('%s: output closed while waiting for the privilege escalation prompt: %s'
                                           % (self._where(), to_native(seen)))
                    seen += chunk
        finally:
            sel.close()
            for f in (p.stdout, p.stderr):
                os.set_blocking(f.fileno(), True)
        if not self.become.check_success(seen):
            pw = self.become.get_option('become_pass', playcontext=self._play_context)
            p.stdin.write(to_bytes(pw or '', errors='surrogate_or_strict') + b'\n')
            p.stdin.flush()

    def _failure(self, rc, err, argv, need):
        '''The AnsibleConnectionFailure for a negotiator-host that failed
        itself (rc 125, or 127 saying the guest lacks NEED), else None.
        negotiator-host's own lines start with its name; a command's
        status 125 or 127 with other stderr is the command's.'''
        lines = to_text(err, errors='surrogate_or_replace').strip().splitlines()
        last = lines[-1] if lines else ''
        ours = last.startswith('negotiator-host:')
        cmdline = ' '.join(shlex.quote(to_text(a)) for a in argv)
        if rc == EXIT_NOCMD and ours and 'no such command' in last:
            return AnsibleConnectionFailure(
                "%s has not enabled negotiator's %s command (%s); run "
                "'negotiator-guest --enable sh put get' there as root"
                % (self._where(), need, last))
        if rc == EXIT_FAILED and ours:
            return AnsibleConnectionFailure('%s: %s (exit %d from: %s)'
                                            % (self._where(), last, rc, cmdline))
        if rc == 255 and self.get_option('negotiator_host'):
            return AnsibleConnectionFailure('%s: ssh failed: %s (exit 255 from: %s)'
                                            % (self._where(), last, cmdline))
        return None

    def _connect(self):
        '''Pings the guest (within the connection timeout), so that a guest
        that is not there, not connected or not answering is UNREACHABLE
        before any task runs.'''
        if self._connected:
            return self
        self._guest = self.get_option('remote_addr')
        display.vvv(u'ESTABLISH NEGOTIATOR CONNECTION TO %s' % self._where(),
                    host=self._guest)
        self._sudoable = False
        t = max(1, int(self.get_option('timeout')))
        rc, out, err, argv = self._run(['-t', str(t), '--ping', self._guest],
                                       stdin_null=True)
        if rc != 0:
            f = self._failure(EXIT_FAILED if rc != 255 else rc, err, argv, 'ping')
            raise f or AnsibleConnectionFailure('%s: no answer (exit %d from: %s): %s' % (
                self._where(), rc, ' '.join(argv), to_native(err).strip()))
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        '''Runs CMD with /bin/sh -c in the guest (its sh command); IN_DATA,
        if any, is its standard input, which is how pipelining sends the
        module.'''
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._sudoable = sudoable
        display.vvv(u'EXEC %s' % to_text(cmd), host=self._guest)
        args = ['-t', str(self.get_option('negotiator_timeout')),
                '-e', 'sh ' + shlex.quote(to_text(cmd)), self._guest]
        rc, out, err, argv = self._run(args, in_data=in_data,
                                       stdin_null=in_data is None and
                                       not self._become_needs_password())
        f = self._failure(rc, err, argv, 'sh')
        if f:
            raise f
        return rc, out, err

    def _copy(self, src, dst, need):
        rc, out, err, argv = self._run(['-q', '--copy', src, dst], stdin_null=True)
        f = self._failure(rc, err, argv, need)
        if f:
            raise f
        if rc != 0:
            raise AnsibleError('%s: copying %s to %s failed: %s' % (
                self._where(), src, dst, to_native(err).strip()))

    def put_file(self, in_path, out_path):
        '''Copies IN_PATH here to OUT_PATH in the guest (--copy, the
        guest's put: written whole or not at all).'''
        super(Connection, self).put_file(in_path, out_path)
        display.vvv(u'PUT %s TO %s' % (in_path, out_path), host=self._guest)
        if not os.path.exists(to_bytes(in_path, errors='surrogate_or_strict')):
            raise AnsibleFileNotFound('file or module does not exist: %s' % to_native(in_path))
        if not self.get_option('negotiator_host'):
            self._copy(in_path, '%s:%s' % (self._guest, out_path), 'put')
            return
        # Through ssh: this machine's negotiator-host writes the copy
        # stream, the guest's put reads it (whole or nothing, as --copy).
        self._stream(self._local(['--send-files', in_path]), None,
                     ['-t', '0', '-e', 'put ' + shlex.quote(out_path), self._guest],
                     'put', in_path, out_path)

    def fetch_file(self, in_path, out_path):
        '''Copies IN_PATH in the guest to OUT_PATH here (--copy, the
        guest's get).'''
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv(u'FETCH %s TO %s' % (in_path, out_path), host=self._guest)
        self._sudoable = False
        if not self.get_option('negotiator_host'):
            self._copy('%s:%s' % (self._guest, in_path), out_path, 'get')
            return
        self._stream(None, self._local(['--receive-files', out_path]),
                     ['-t', '0', '-e', 'get ' + shlex.quote(in_path), self._guest],
                     'get', in_path, out_path)

    def _local(self, args):
        return [self.get_option('negotiator_local_command')] + args

    def _stream(self, producer, consumer, args, need, src, dst):
        '''A copy through ssh: PRODUCER's output into negotiator-host ARGS
        on the far host, or that one's output into CONSUMER (argvs run
        here).  Both end if either fails or on any exception.'''
        argv = self._argv(args)
        display.vvv(u'NEGOTIATOR %s %s %s' % (
            ' '.join(producer or []), ' '.join(shlex.quote(a) for a in argv),
            ' '.join(consumer or [])), host=self._guest)
        procs = []
        errf = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        try:
            if producer:
                first = subprocess.Popen(producer, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=errf[0])
                procs.append(first)
                mid = subprocess.Popen(argv, stdin=first.stdout,
                                       stdout=subprocess.DEVNULL, stderr=errf[1])
                first.stdout.close()
                procs.append(mid)
            else:
                mid = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=errf[0])
                procs.append(mid)
                last = subprocess.Popen(consumer, stdin=mid.stdout,
                                        stdout=subprocess.DEVNULL, stderr=errf[1])
                mid.stdout.close()
                procs.append(last)
            rcs = [p.wait() for p in procs]
            errs = []
            for f in errf:
                f.seek(0)
                errs.append(f.read(65536))
        except OSError as e:
            raise AnsibleConnectionFailure('%s: cannot run a copy: %s' % (self._where(), to_native(e)))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for f in errf:
                f.close()
        i = 1 if producer else 0
        f = self._failure(rcs[i], errs[i], argv, need)
        if f:
            raise f
        if any(rcs):
            raise AnsibleError('%s: copying %s to %s failed: %s' % (
                self._where(), src, dst,
                ' '.join(to_native(e).strip() for e in errs if e)))

    def close(self):
        self._connected = False
