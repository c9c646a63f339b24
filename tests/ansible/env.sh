# tests/ansible/env.sh: sourced by local.sh and vm.sh, with REPO, TMP and
# HOSTBIN set: Ansible from the source checkout (the connection and
# inventory plugins), its output the json callback's, its files in $TMP,
# and the plugins' negotiator-host the one under test, at the host daemon
# on $TMP/host.sock.
export ANSIBLE_CONNECTION_PLUGINS=$REPO/ansible/plugins/connection
export ANSIBLE_INVENTORY_PLUGINS=$REPO/ansible/plugins/inventory
export ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_LOAD_CALLBACK_PLUGINS=1
export ANSIBLE_VERBOSE_TO_STDERR=1 ANSIBLE_LOCAL_TEMP=$TMP/atmp
export ANSIBLE_HOST_KEY_CHECKING=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
printf "[defaults]\n" >"$TMP/ansible.cfg"
export ANSIBLE_CONFIG=$TMP/ansible.cfg
export NEGOTIATOR_COMMAND=$HOSTBIN NEGOTIATOR_ARGS="--control $TMP/host.sock"
