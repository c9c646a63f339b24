# negotiator: an Ansible inventory of the guests a host's negotiator daemon
# knows, from `negotiator-host -g --json` (one object per guest per line),
# each with the connection set to negotiator and its state as a variable.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
    name: negotiator
    short_description: the guests of a negotiator host
    description:
        - Lists the guests that C(negotiator-host -g --json) shows, on this
          machine or, with C(negotiator_host), on a host reached with ssh;
          each gets C(ansible_connection=negotiator), C(negotiator_state)
          (connected, not answering, not connected, or "found, no daemon"),
          C(negotiator_protocol), C(negotiator_last_frame_age_s), and is in
          the group C(negotiator_<state>) (spaces and commas as
          underscores, e.g. C(negotiator_connected)).
        - The inventory file is YAML with C(plugin) set to C(negotiator)
          and a name ending in C(negotiator.yml) or C(negotiator.yaml).
    author: negotiator
    version_added: "2.14"
    options:
      plugin:
        description: The name of this plugin; C(negotiator) or C(negotiator.negotiator).
        required: true
        choices: ['negotiator']
      states:
        description: The states whose guests are listed; empty lists every guest found.
        type: list
        elements: str
        default: []
      negotiator_host:
        description: The host whose guests these are, reached with ssh; set on each guest as C(negotiator_host).  Empty for this machine.
        default: ''
      negotiator_ssh:
        description: The ssh command and its options, split like a shell.
        default: ssh
      negotiator_command:
        description: The negotiator-host program (on the host that runs the guests).
        default: negotiator-host
      negotiator_args:
        description: More options for negotiator-host, split like a shell (e.g. C(--control PATH)); set on each guest too.
        default: ''
      timeout:
        description: Seconds to wait for the list.
        type: int
        default: 30
'''

EXAMPLES = '''
# /etc/ansible/guests.negotiator.yml: every connected guest of this host.
plugin: negotiator
states: [connected]

# kvm1.negotiator.yml: the guests of kvm1, through ssh to it.
plugin: negotiator
negotiator_host: root@kvm1
'''

import json
import re
import shlex
import subprocess

from ansible.errors import AnsibleParserError
from ansible.module_utils._text import to_native, to_text
from ansible.plugins.inventory import BaseInventoryPlugin

# A guest name Ansible can take as a host name: printable, no spaces, no
# characters its patterns give a meaning to (, : [ ] * ! & ~ and quotes).
GOOD_NAME = re.compile(r'^[A-Za-z0-9._@%+=/-]{1,255}$')


class InventoryModule(BaseInventoryPlugin):

    NAME = 'negotiator'

    def verify_file(self, path):
        return (super(InventoryModule, self).verify_file(path) and
                path.endswith(('negotiator.yml', 'negotiator.yaml')))

    def _list(self):
        argv = [self.get_option('negotiator_command')]
        argv += shlex.split(self.get_option('negotiator_args') or '')
        argv += ['-g', '--json']
        remote = self.get_option('negotiator_host')
        if remote:
            ssh = shlex.split(self.get_option('negotiator_ssh') or 'ssh')
            argv = ssh + ['-o', 'BatchMode=yes', '-e', 'none', remote, '--',
                          ' '.join(shlex.quote(a) for a in argv)]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=self.get_option('timeout'))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise AnsibleParserError('negotiator: %s: %s' % (' '.join(argv), to_native(e)))
        if p.returncode != 0:
            raise AnsibleParserError('negotiator: %s: exit %d: %s' % (
                ' '.join(argv), p.returncode,
                to_native(p.stderr, errors='surrogate_or_replace').strip()))
        return p.stdout

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        states = self.get_option('states') or []
        remote = self.get_option('negotiator_host')
        for n, line in enumerate(self._list().splitlines(), 1):
            try:
                g = json.loads(to_text(line, errors='surrogate_or_strict'))
                name, state = g['guest'], g['state']
                if not isinstance(name, str) or not isinstance(state, str):
                    raise ValueError('guest and state must be strings')
            except (ValueError, KeyError, TypeError, UnicodeError) as e:
                self.display.warning('negotiator: line %d of -g --json skipped: %s'
                                     % (n, to_native(e)))
                continue
            if not GOOD_NAME.match(name):
                self.display.warning('negotiator: guest %s skipped: not a name Ansible takes'
                                     % json.dumps(name))
                continue
            if states and state not in states:
                continue
            group = 'negotiator_' + re.sub(r'[^a-z0-9]+', '_', state.lower()).strip('_')
            self.inventory.add_group(group)
            self.inventory.add_host(name, group=group)
            self.inventory.set_variable(name, 'ansible_connection', 'negotiator')
            self.inventory.set_variable(name, 'negotiator_state', state)
            for k in ('protocol', 'last_frame_age_s'):
                if isinstance(g.get(k), int):
                    self.inventory.set_variable(name, 'negotiator_' + k, g[k])
            for k in ('negotiator_host', 'negotiator_ssh', 'negotiator_command',
                      'negotiator_args'):
                v = self.get_option(k)
                if v and (remote or k != 'negotiator_ssh'):
                    self.inventory.set_variable(name, k, v)
