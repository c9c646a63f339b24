#!/usr/bin/python3
# check.py JSON HOST BIG [KIND]: the checks of tests/ansible on the json
# callback's output JSON of playbook.yml for HOST: one "ok   - " or
# "FAIL - " line each (tests/lib.sh's format); exit 1 if any failed.  BIG
# is the local file the playbook copied; its sha256 must be the guest's.
# KIND "ping-unreachable NEEDLE": JSON is an ad-hoc ping; HOST must be
# UNREACHABLE with NEEDLE in the message.
import hashlib
import json
import sys

failed = 0


def check(what, cond, detail=''):
    global failed
    if cond:
        print('ok   - ansible: %s' % what)
    else:
        failed += 1
        print('FAIL - ansible: %s%s' % (what, ('\n     ' + detail) if detail else ''))


doc = json.load(open(sys.argv[1]))
host = sys.argv[2]

if len(sys.argv) > 4 and sys.argv[4] == 'ping-unreachable':
    needle = sys.argv[5]
    r = doc['plays'][0]['tasks'][0]['hosts'].get(host, {})
    check('%s is UNREACHABLE' % host, r.get('unreachable') is True, json.dumps(r)[:400])
    check('... saying %r' % needle, needle in r.get('msg', ''), r.get('msg', ''))
    sys.exit(1 if failed else 0)

big = sys.argv[3]
tasks = {}
for t in doc['plays'][0]['tasks']:
    tasks[t['task']['name']] = t['hosts'].get(host, {})
want = ['Gathering Facts', 'ping', 'command', 'shell with a pipe', 'file',
        'copy big', 'stat big', 'fetch', 'template', 'lineinfile',
        'lineinfile again', 'slurp conf', 'become', 'failing',
        'past its timeout', 'killed with it']
check('every task ran on %s' % host, all(w in tasks for w in want),
      'missing: %s' % [w for w in want if w not in tasks])


def r(name):
    return tasks.get(name, {})


def ok(name):
    x = r(name)
    return not x.get('failed') and not x.get('unreachable') and x != {}


facts = r('Gathering Facts').get('ansible_facts', {})
check('setup: facts gathered (Debian, python3)', ok('Gathering Facts') and
      facts.get('ansible_distribution') == 'Debian' and
      'python3' in facts.get('ansible_python', {}).get('executable', ''),
      json.dumps(r('Gathering Facts'))[:300])
check('ping: pong', r('ping').get('ping') == 'pong', json.dumps(r('ping'))[:300])
check('command: uname -s is Linux', r('command').get('stdout') == 'Linux',
      json.dumps(r('command'))[:300])
check('shell with a pipe: 3 lines counted', r('shell with a pipe').get('stdout') == '3',
      json.dumps(r('shell with a pipe'))[:300])
check('file: a directory, mode 0750', ok('file') and r('file').get('mode') == '0750'
      and r('file').get('state') == 'directory', json.dumps(r('file'))[:300])
h = hashlib.sha256()
with open(big, 'rb') as f:
    for b in iter(lambda: f.read(1 << 20), b''):
        h.update(b)
size = h and __import__('os').path.getsize(big)
check('copy: %d bytes, changed' % size, ok('copy big') and r('copy big').get('changed') is True
      and r('copy big').get('size') == size, json.dumps(r('copy big'))[:300])
st = r('stat big').get('stat', {})
check('copy: the sha256 in the guest is the file\'s', st.get('checksum') == h.hexdigest(),
      '%s != %s' % (st.get('checksum'), h.hexdigest()))
check('fetch: the same file back (md5 checked by fetch)', ok('fetch') and
      r('fetch').get('checksum') == r('copy big').get('checksum'), json.dumps(r('fetch'))[:300])
check('template: written', ok('template') and r('template').get('changed') is True,
      json.dumps(r('template'))[:300])
check('lineinfile: line added', ok('lineinfile') and r('lineinfile').get('changed') is True,
      json.dumps(r('lineinfile'))[:300])
check('lineinfile again: unchanged', ok('lineinfile again') and
      r('lineinfile again').get('changed') is False, json.dumps(r('lineinfile again'))[:300])
import base64
conf = base64.b64decode(r('slurp conf').get('content', '')).decode('utf-8', 'replace')
check('template + lineinfile: the file in the guest',
      conf == '# written by ansible for %s\nos = Debian\nadded = yes\n' % host, repr(conf))
check('become: sudo to nobody', r('become').get('stdout') == 'nobody',
      json.dumps(r('become'))[:300])
f = r('failing')
check('failing task: FAILED with rc 3, its stdout and stderr',
      f.get('failed') is True and not f.get('unreachable') and f.get('rc') == 3 and
      f.get('stdout') == 'out' and f.get('stderr') == 'err', json.dumps(f)[:300])
t = r('past its timeout')
check('task past its timeout: FAILED, terminated', t.get('failed') is True and
      'expected time frame (3)' in t.get('msg', ''), json.dumps(t)[:300])
check('... and its command ended in the guest', ok('killed with it'),
      json.dumps(r('killed with it'))[:300])
stats = doc.get('stats', {}).get(host, {})
check('stats: 2 failed (ignored), none unreachable',
      stats.get('ignored') == 2 and stats.get('unreachable') == 0 and
      stats.get('failures') == 0, json.dumps(stats))
sys.exit(1 if failed else 0)
