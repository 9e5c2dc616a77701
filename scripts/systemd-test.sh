#!/usr/bin/env bash
# Runs the .deb's unit under a real systemd: boots a Debian 12 tree with
# systemd as PID 1 in systemd-nspawn, installs the package and checks
#
#   - `systemctl start` reaches active only after the agent's READY=1;
#   - `systemctl reload` applies a change of the dhcp: section;
#   - a stopped (SIGSTOP) agent is restarted by the watchdog, and the
#     ExecStopPost cleanup removed its VIP in between;
#   - `systemctl stop` leaves no VIP and no nftables table;
#   - `journalctl -u hadhcpd` has the log's structured fields as journal
#     fields (INSTANCE=lan, PRIORITY by level).
#
# Root only. The debootstrapped tree is cached (SYSTEMD_TEST_CACHE, default
# /var/cache/hadhcpd-systemd-test) and never changed: the container runs on
# a throw-away overlay of it (--volatile=overlay), so re-runs skip the
# bootstrap and start from the same clean system.
#
# Environment:
#   SYSTEMD_TEST_CACHE   where the tree is kept
#   SYSTEMD_TEST_MIRROR  Debian mirror (default: the first in apt's sources,
#                        else http://deb.debian.org/debian)
#   SYSTEMD_TEST_DEB     a .deb to test instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
if [[ $(id -u) -ne 0 ]]; then
	echo "systemd-test: needs root (debootstrap, systemd-nspawn)" >&2
	exit 1
fi
for c in systemd-nspawn debootstrap nsenter; do
	command -v "$c" >/dev/null || { echo "systemd-test: $c missing (make systemd-test installs systemd-container and debootstrap)" >&2; exit 1; }
done

cache=${SYSTEMD_TEST_CACHE:-/var/cache/hadhcpd-systemd-test}
tree=$cache/bookworm
tmp=$(mktemp -d /tmp/hadhcpd-systemd-test.XXXXXX)
machine=hadhcpd-systest-$$
nspawn_pid=

cleanup() {
	local rc=$?
	set +e
	# The container is thrown away: SIGKILL to its PID 1 ends everything
	# in its PID namespace at once, and nspawn then exits and removes its
	# overlay. nspawn itself is killed only if it does not.
	if [[ -z ${leader:-} && -n $nspawn_pid ]]; then
		leader=$(ps -o pid=,comm= --ppid "$nspawn_pid" | awk '$2 == "systemd" { print $1; exit }')
	fi
	if [[ -n ${leader:-} ]] && kill -0 "$leader" 2>/dev/null; then
		kill -KILL "$leader" 2>/dev/null
	fi
	if [[ -n $nspawn_pid ]]; then
		for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [[ $rc -ne 0 && -s $tmp/nspawn.log ]]; then
		echo "--- container console (last 30 lines)" >&2
		tail -n 30 "$tmp/nspawn.log" >&2
	fi
	rm -rf "$tmp"
	if [[ $rc -eq 0 ]]; then
		echo "systemd-test: PASS ($((SECONDS - start))s)"
	else
		echo "systemd-test: FAIL ($((SECONDS - start))s)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
ok() { echo "  ok   $*"; }
fail() {
	echo "  FAIL $*" >&2
	fails=$((fails + 1))
}
section() { echo "== $* ($((SECONDS - start))s)"; }
finish_section() {
	if [[ $fails -gt 0 ]]; then
		echo "systemd-test: $fails check(s) failed" >&2
		exit 1
	fi
}

# ---------------------------------------------------------------- tree
section "Debian 12 tree"
if [[ -e $tree/.hadhcpd-complete ]]; then
	ok "cached tree $tree"
else
	mirror=${SYSTEMD_TEST_MIRROR:-$( (grep -rshoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ || true) | awk 'NR == 1 { print $2 }')}
	mirror=${mirror:-http://deb.debian.org/debian}
	rm -rf "$tree.tmp"
	mkdir -p "$cache"
	# systemd-sysv: systemd as /sbin/init; dbus: systemctl's bus;
	# nftables, iproute2: what the checks look at; init-system-helpers:
	# the maintainer scripts' deb-systemd-helper.
	if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,nftables,iproute2,init-system-helpers \
		bookworm "$tree.tmp" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 20 "$tmp/debootstrap.log" >&2
		echo "systemd-test: debootstrap from $mirror failed" >&2
		exit 1
	fi
	# A fixed machine-id: --volatile=overlay cannot write one at boot.
	systemd-machine-id-setup --root="$tree.tmp" >/dev/null
	echo hadhcpd-systest >"$tree.tmp/etc/hostname"
	touch "$tree.tmp/.hadhcpd-complete"
	mv "$tree.tmp" "$tree"
	ok "debootstrap bookworm from $mirror ($((SECONDS - start))s)"
fi

# ---------------------------------------------------------------- package
section "package"
mkdir -p "$tmp/share"
if [[ -n ${SYSTEMD_TEST_DEB:-} ]]; then
	cp "$SYSTEMD_TEST_DEB" "$tmp/share/hadhcpd.deb"
else
	deb=$(DIST=$tmp/dist scripts/package-build.sh deb)
	cp "$deb" "$tmp/share/hadhcpd.deb"
fi
ok "$(dpkg-deb -f "$tmp/share/hadhcpd.deb" Package)_$(dpkg-deb -f "$tmp/share/hadhcpd.deb" Version)"

# The agent's config in the container: one VRRP instance and a DHCP pool
# on lan0 (a veth pair inside the container), the nftables table managed.
# The reload check changes the pool.
cat >"$tmp/share/hadhcpd.yaml" <<'EOF'
node: {name: systest, state_dir: /var/lib/hadhcpd, control_socket: /run/hadhcpd/hadhcpd.sock, log_level: info}
vrrp:
  instances:
    - {name: lan, interface: lan0, vrid: 51, priority: 200, advert_interval: 100ms, virtual_ips: [192.0.2.1/24]}
dhcp:
  interfaces: [lan0]
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
firewall: {manage: true}
EOF

# ---------------------------------------------------------------- boot
section "boot systemd in systemd-nspawn"
# --private-network: the container's own network namespace, in which
# its root may make links and nftables tables; --register=no and
# --keep-unit: the host needs no systemd-machined and no bus (it need not
# run systemd at all).
systemd-nspawn --quiet --directory="$tree" --volatile=overlay --boot --private-network \
	--register=no --keep-unit --machine="$machine" --console=passive --bind-ro="$tmp/share:/mnt/share" \
	>"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!
leader=
# The container's PID 1 is the child of nspawn that runs systemd (an
# intermediate child comes and goes first).
for _ in $(seq 1 100); do
	leader=$(ps -o pid=,comm= --ppid "$nspawn_pid" | awk '$2 == "systemd" { print $1; exit }' || true)
	[[ -n $leader ]] && break
	sleep 0.1
done
[[ -n $leader ]] || { echo "systemd-test: the container did not start" >&2; exit 1; }
# in_ct CMD...: runs CMD inside the container (all its namespaces).
in_ct() { nsenter --target "$leader" --all /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
state=
for _ in $(seq 1 300); do
	state=$(in_ct systemctl is-system-running 2>/dev/null || true)
	[[ $state == running || $state == degraded ]] && break
	sleep 0.1
done
if [[ $(in_ct readlink /proc/1/exe) == */systemd && ($state == running || $state == degraded) ]]; then
	ok "systemd is PID 1 in the container, system $state ($((SECONDS - start))s)"
else
	fail "container system state '$state'"
fi
finish_section

# ---------------------------------------------------------------- install
section "install the .deb"
in_ct ip link add lan0 type veth peer name lan0p
in_ct ip addr add 192.0.2.2/24 dev lan0
in_ct ip link set lan0p up
in_ct ip link set lan0 up
if in_ct dpkg -i /mnt/share/hadhcpd.deb >"$tmp/dpkg.log" 2>&1; then ok "dpkg -i"; else cat "$tmp/dpkg.log" >&2; fail "dpkg -i"; fi
check_enabled=$(in_ct systemctl is-enabled hadhcpd || true)
[[ $check_enabled == enabled ]] && ok "unit enabled by the package" || fail "unit is '$check_enabled', want enabled"
in_ct install -m 0640 -o root -g hadhcpd /mnt/share/hadhcpd.yaml /etc/hadhcpd/hadhcpd.yaml
finish_section

# prop NAME: one property of the unit.
prop() { in_ct systemctl show -P "$1" hadhcpd; }
has_vip() { in_ct ip -4 -o addr show dev lan0 | grep -q ' 192\.0\.2\.1/24 '; }
has_table() { in_ct nft list tables | grep -q hadhcpd; }
# wait_for SECONDS WHAT CMD...: polls CMD every 100ms.
wait_for() {
	local n=$(($1 * 10)) what=$2
	shift 2
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what (not within ${n}00ms)"
	return 1
}

# ---------------------------------------------------------------- start
section "systemctl start"
t0=$SECONDS
if in_ct systemctl start hadhcpd; then ok "systemctl start returned ($((SECONDS - t0))s)"; else fail "systemctl start"; fi
[[ $(prop Type) == notify ]] && ok "Type=notify" || fail "Type=$(prop Type)"
[[ $(prop ActiveState) == active ]] && ok "active" || fail "ActiveState=$(prop ActiveState)"
# READY=1 is what moved the job from activating to active: systemd logs
# "Started" only then, and the agent writes READY=1 right after its
# "hadhcpd running" line, so that line must come first.
in_ct journalctl -u hadhcpd -o cat --no-pager >"$tmp/j1" 2>&1
run_line=$(grep -n 'hadhcpd running' "$tmp/j1" | head -1 | cut -d: -f1)
started=$(grep -n 'Started hadhcpd' "$tmp/j1" | head -1 | cut -d: -f1)
if [[ -n $run_line && -n $started && $run_line -lt $started ]]; then
	ok "agent's 'hadhcpd running' (then READY=1) logged before systemd's 'Started'"
else
	fail "journal order: 'hadhcpd running' at line '${run_line:-none}', 'Started' at '${started:-none}'"
fi
# The timestamps say the same: active later than the main process began.
exec_us=$(in_ct systemctl show -P ExecMainStartTimestampMonotonic hadhcpd)
active_us=$(in_ct systemctl show -P ActiveEnterTimestampMonotonic hadhcpd)
if ((active_us > exec_us)); then ok "active $(((active_us - exec_us) / 1000)) ms after the main process started"; else fail "ActiveEnter $active_us <= ExecMainStart $exec_us"; fi
# A process that never sends READY=1 never reaches active (the proof the
# wait is real): the same unit with the agent replaced by sleep.
in_ct sh -c 'sed -e "s#^ExecStart=.*#ExecStart=/bin/sleep 60#" -e "s#^ExecStartPre=.*##" -e "s#^ExecStopPost=.*##" -e "s#^WatchdogSec=.*#TimeoutStartSec=3s#" -e "s#^Restart=.*#Restart=no#" /lib/systemd/system/hadhcpd.service >/run/systemd/system/hadhcpd-noready.service'
in_ct systemctl daemon-reload
in_ct systemctl start --no-block hadhcpd-noready
sleep 1
s1=$(in_ct systemctl show -P ActiveState hadhcpd-noready)
noready_done() { [[ $(in_ct systemctl show -P ActiveState hadhcpd-noready) != activating ]]; }
wait_for 10 "hadhcpd-noready left activating" noready_done || true
s2=$(in_ct systemctl show -P ActiveState hadhcpd-noready)
r2=$(in_ct systemctl show -P Result hadhcpd-noready)
if [[ $s1 == activating && $s2 != active && $r2 == timeout ]]; then
	ok "without READY=1: activating, then failed with Result=timeout (never active)"
else
	fail "without READY=1: $s1 then $s2 (Result=$r2)"
fi
in_ct systemctl reset-failed hadhcpd-noready 2>/dev/null || true
wait_for 10 "VIP on lan0 (master)" has_vip && ok "VIP 192.0.2.1 on lan0"
has_table && ok "nftables table present (firewall.manage)" || fail "no nftables table while running"
finish_section

# ---------------------------------------------------------------- reload
section "systemctl reload"
pid_before=$(prop MainPID)
in_ct sed -i 's/192.0.2.100-192.0.2.200/192.0.2.100-192.0.2.150/' /etc/hadhcpd/hadhcpd.yaml
if in_ct systemctl reload hadhcpd; then ok "systemctl reload returned"; else fail "systemctl reload"; fi
applied() { in_ct journalctl -u hadhcpd -o cat --no-pager | grep -q 'reload: dhcp section applied'; }
wait_for 10 "journal: 'reload: dhcp section applied'" applied && ok "the agent applied the changed pool: $(in_ct journalctl -u hadhcpd -o cat --no-pager | grep 'reload: dhcp section applied' | tail -1 | grep -o 'changed=[^ ]*')"
[[ $(prop MainPID) == "$pid_before" ]] && ok "same process (MainPID $pid_before): reloaded, not restarted" || fail "MainPID changed on reload"
[[ $(prop ActiveState) == active ]] && ok "still active" || fail "ActiveState=$(prop ActiveState) after reload"
finish_section

# ---------------------------------------------------------------- watchdog
section "watchdog"
pid=$(prop MainPID)
restarts=$(prop NRestarts)
wd_us=$(prop WatchdogUSec)
t0=$SECONDS
in_ct systemctl kill --kill-who=main --signal=SIGSTOP hadhcpd
ok "SIGSTOP to the agent (MainPID $pid, WatchdogUSec=$wd_us)"
restarted() { local p; p=$(prop MainPID); [[ $p != 0 && $p != "$pid" && $(prop ActiveState) == active ]]; }
if wait_for 60 "a new agent after the watchdog" restarted; then
	ok "restarted by the watchdog after $((SECONDS - t0))s: MainPID $(prop MainPID), NRestarts $restarts -> $(prop NRestarts)"
fi
wd_logged() { in_ct journalctl -u hadhcpd -o cat --no-pager | grep -q "Failed with result 'watchdog'"; }
if wait_for 5 "journal: \"Failed with result 'watchdog'\"" wd_logged; then
	ok "journal: $(in_ct journalctl -u hadhcpd -o cat --no-pager | grep -E "Watchdog timeout|Main process exited" | tail -2 | paste -sd ';')"
else
	in_ct journalctl -u hadhcpd -o short-monotonic --no-pager | grep -v '^ *\[.*\] .* hadhcpd\[' | tail -15 >&2
fi
wait_for 10 "VIP back on lan0 after the restart" has_vip && ok "VIP back after the restart"
finish_section

# ---------------------------------------------------------------- stop
section "systemctl stop"
if in_ct systemctl stop hadhcpd; then ok "systemctl stop returned"; else fail "systemctl stop"; fi
[[ $(prop ActiveState) == inactive ]] && ok "inactive" || fail "ActiveState=$(prop ActiveState)"
has_vip && fail "VIP 192.0.2.1 still on lan0 after stop" || ok "no VIP on lan0"
has_table && fail "nftables table left after stop" || ok "no nftables table"
finish_section

# ---------------------------------------------------------------- journal
section "journalctl -u hadhcpd"
in_ct journalctl -u hadhcpd -o json --no-pager >"$tmp/j.json"
# field NAME=VALUE: some entry of the unit has that journal field.
field() { grep -q "\"$1\":\"$2\"" "$tmp/j.json"; }
for f in 'INSTANCE=lan' 'COMPONENT=vrrp' 'NODE=systest' 'TO=master' 'SYSLOG_IDENTIFIER=hadhcpd' 'PRIORITY=6'; do
	if field "${f%%=*}" "${f#*=}"; then ok "journal field $f"; else fail "no journal entry with $f"; fi
done
if in_ct journalctl -u hadhcpd --no-pager INSTANCE=lan TO=master -o cat | grep -q 'vrrp transition'; then
	ok "journalctl -u hadhcpd INSTANCE=lan TO=master finds the takeover"
else
	fail "journalctl -u hadhcpd INSTANCE=lan TO=master finds nothing"
fi
# The watchdog restart's warning went out at warning priority.
if in_ct journalctl -u hadhcpd --no-pager -p warning -o cat | grep -q .; then ok "journalctl -p warning has entries"; else fail "nothing at -p warning"; fi
finish_section
