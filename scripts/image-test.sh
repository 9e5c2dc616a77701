#!/usr/bin/env bash
# Boots the appliance image twice under qemu and checks the pair end to end
# (make image-test; root; ~1 min with TCG on 2 cores):
#
#   client ns hdiNNN-cl ── veth ──┐
#                                 hdibr0 (ns hdiNNN-hub, 192.0.2.254/24)
#   qemu gw1 ── tap hditap1 ──────┤   the taps and the bridge live in the
#   qemu gw2 ── tap hditap2 ──────┘   hub namespace, never on the host's
#
#   1. both guests boot (kernel + firmware initrd + lab config initrd,
#      hadhcpd.node=gw1/gw2); boot time to "serving" is printed per guest;
#   2. gw1 (priority 200) holds the VIP 192.0.2.1 (ARP from gw1's MAC);
#   3. the failover pair reaches NORMAL over its peer link; a client
#      (udhcpc -s /bin/true) gets a lease from gw1 whose server id is the VIP;
#   4. gw1's power is cut (qemu monitor `quit`: no priority-0 advert, a box
#      failure); the VIP moves to gw2 (takeover time printed), client 1 gets
#      its same address back from gw2 (the lease was replicated before its
#      ACK) and a new client gets another one;
#   5. gw1 boots again: its lease journal survived on its state disk (an
#      ext4 file system labelled HADHCPD-STATE), it resynchronises from gw2
#      and only then takes the VIP back;
#   6. gw1 is powered off gracefully (ACPI power button, `system_powerdown`):
#      init stops hadhcpd, whose priority-0 advert hands the VIP to gw2 at
#      once, and the guest powers off; a third client gets a lease from gw2.
# Everything (qemu by PID, namespaces) is removed on exit and on failure.
# Serial consoles and monitor output: dist/image/test/.
# Environment: DIST (default dist), IMAGE_TEST_MEM (MiB per guest, 192).
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s%N)

die() { echo "image-test: FAIL: $*" >&2; exit 1; }
say() { echo "image-test: $*" >&2; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, tap devices)"

# What the test drives, from Debian, installed only when missing. busybox
# gives arping; busybox-static is never installed (it conflicts with busybox:
# the image build only downloads it).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v udhcpc >/dev/null || need+=(udhcpc)
command -v busybox >/dev/null || need+=(busybox)
command -v ip >/dev/null || need+=(iproute2)
command -v cpio >/dev/null || need+=(cpio)
command -v nft >/dev/null || need+=(nftables)
if ((${#need[@]})); then
	say "apt-get install ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

DIST=${DIST:-dist}
export DIST
scripts/image-build.sh
IMG=$DIST/image
LOGS=$IMG/test
rm -rf "$LOGS"
mkdir -p "$LOGS"
cat "$IMG/initrd.img" "$IMG/lab.cpio.gz" >"$LOGS/initrd-lab.img"

accel=tcg
if [[ -r /dev/kvm && -w /dev/kvm ]]; then accel=kvm; fi
MEM=${IMAGE_TEST_MEM:-192}

ID=hdi$$
HUB=$ID-hub
CL=$ID-cl
VIP=192.0.2.1
declare -A qpid=() mac=([gw1]=52:54:00:00:02:01 [gw2]=52:54:00:00:02:02)
bgpids=()

cleanup() {
	local rc=$? p n i
	trap - EXIT INT TERM HUP
	for n in "${!qpid[@]}"; do
		p=${qpid[$n]}
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || true
		for i in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for n in "$CL" "$HUB"; do
		ip netns list 2>/dev/null | grep -qw "^$n" || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do
			echo "image-test: warning: pid $p still in $n" >&2
		done
		ip netns del "$n" 2>/dev/null || true
	done
	if ((rc != 0)); then
		for n in gw1 gw2; do
			[[ -f $LOGS/$n.log ]] || continue
			echo "---- $LOGS/$n.log (tail) ----" >&2
			tr -d '\r' <"$LOGS/$n.log" | grep -v '^[[:space:]]*$' | tail -n 25 >&2
		done
		echo "image-test: FAILED after $(elapsed)s (logs in $LOGS)" >&2
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

elapsed() { awk -v a="$t_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- the lab network, all of it inside two namespaces of ours ----
ip netns add "$HUB"
ip netns add "$CL"
ip -n "$HUB" link set lo up
ip -n "$CL" link set lo up
ip -n "$HUB" link add hdibr0 type bridge
ip -n "$HUB" link set hdibr0 up
ip -n "$HUB" addr add 192.0.2.254/24 dev hdibr0
for n in 1 2; do
	ip -n "$HUB" tuntap add dev hditap$n mode tap
	ip -n "$HUB" link set hditap$n master hdibr0 up
done
ip -n "$HUB" link add hdicl0p type veth peer name hdicl0 netns "$CL"
ip -n "$HUB" link set hdicl0p master hdibr0 up
ip -n "$CL" link set hdicl0 up

# ---- boot both guests at once ----
declare -A tboot=()
boot() { # node tapnumber [extra qemu args]
	local n=$1 tap=$2 mon=$LOGS/$1.mon
	shift 2
	rm -f "$mon.in" "$mon.out"
	mkfifo "$mon.in" "$mon.out"
	cat "$mon.out" >"$LOGS/$n.monitor.log" &
	bgpids+=($!)
	tboot[$n]=$(date +%s%N)
	# ip netns exec execs qemu: $! is qemu's PID.
	ip netns exec "$HUB" qemu-system-x86_64 -name "$ID-$n" -accel "$accel" -m "$MEM" -smp 1 \
		-nographic -no-reboot -nodefaults \
		-kernel "$IMG/vmlinuz" -initrd "$LOGS/initrd-lab.img" \
		-append "console=ttyS0 panic=-1 loglevel=4 edd=off hadhcpd.node=$n" \
		-netdev "tap,id=lan,ifname=hditap$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=lan,mac=${mac[$n]}" \
		-serial "file:$LOGS/$n.log" -monitor "pipe:$mon" "$@" \
		</dev/null >>"$LOGS/$n.qemu.log" 2>&1 &
	qpid[$n]=$!
}
monitor() { echo "$2" >"$LOGS/$1.mon.in"; }

# wait_log node regexp timeout_s: waits for a line in the node's console log.
wait_log() {
	local n=$1 re=$2 deadline=$(($(date +%s) + $3))
	while ! cat "$LOGS/$n.log" 2>/dev/null | tr -d '\r' | grep -qE "$re"; do
		kill -0 "${qpid[$n]}" 2>/dev/null || die "$n: qemu exited while waiting for /$re/"
		(($(date +%s) < deadline)) || die "$n: no /$re/ on the console within $3 s"
		sleep 0.05
	done
}

# vip_mac: the MAC that answers ARP for the VIP on the LAN, or nothing.
vip_mac() {
	ip netns exec "$HUB" busybox arping -c 1 -w 1 -I hdibr0 "$VIP" 2>/dev/null |
		sed -n 's/.*reply from .*\[\([0-9a-fA-F:]*\)\].*/\1/p' | head -n1 | tr 'A-F' 'a-f'
}

# lease mac [address]: one DORA from the client namespace (asking for
# address when given); prints "ADDRESS SERVERID".
lease() {
	local out req=()
	[[ -n ${2:-} ]] && req=(-r "$2")
	ip -n "$CL" link set hdicl0 address "$1"
	out=$(ip netns exec "$CL" timeout 40 udhcpc -f -q -n -i hdicl0 -s /bin/true -t 8 -T 3 "${req[@]}" 2>&1) ||
		{ echo "$out" >&2; die "client $1 got no lease"; }
	echo "$out" >"$LOGS/udhcpc-$1.log"
	sed -n 's/.*lease of \([0-9.]*\) obtained from \([0-9.]*\).*/\1 \2/p' <<<"$out" | head -n1
}

in_range() { # addr lo hi (last octets)
	local o=${1##*.}
	[[ ${1%.*} == 192.0.2 ]] && ((o >= $2 && o <= $3))
}

say "booting gw1 and gw2 (qemu -accel $accel, ${MEM} MiB each)"
# gw1 keeps its lease journal on a disk labelled HADHCPD-STATE (made
# without root or loop devices); gw2 runs with the journal in RAM.
mkfs.ext4 -q -F -L HADHCPD-STATE "$LOGS/gw1-state.img" 16M >/dev/null
state=(-drive "file=$LOGS/gw1-state.img,format=raw,if=virtio")
boot gw1 1 "${state[@]}"
boot gw2 2

declare -A t_run=() t_state=()
for n in gw1 gw2; do
	wait_log "$n" 'msg="hadhcpd running"' 180
	t_run[$n]=$(ms_since "${tboot[$n]}")
done
wait_log gw1 'to=master' 60
t_state[gw1]=$(ms_since "${tboot[gw1]}")
wait_log gw2 'to=backup' 60
t_state[gw2]=$(ms_since "${tboot[gw2]}")
# gw2 may have been master until gw1 came up and preempted it; it must be
# backup now and stay so.
for i in $(seq 1 40); do
	m=$(vip_mac)
	[[ $m == "${mac[gw1]}" ]] && break
	sleep 0.25
done
[[ $m == "${mac[gw1]}" ]] || die "VIP $VIP answers ARP from '${m:-nobody}', want gw1 ${mac[gw1]}"
t_vip=$(ms_since "${tboot[gw1]}")
sec() { awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'; }
say "boot to serving: gw1 $(sec "${t_state[gw1]}") s (agent running $(sec "${t_run[gw1]}") s, VRRP master $(sec "${t_state[gw1]}") s, VIP answering ARP checked at $(sec "$t_vip") s)"
say "boot to serving: gw2 $(sec "${t_run[gw2]}") s (agent running, serving its pool; VRRP backup $(sec "${t_state[gw2]}") s)"

# ---- the failover pair: NORMAL on both boxes, then a lease through the VIP ----
# Only the VRRP master (gw1) serves in hot-standby; the lease is on gw2 too
# before the ACK leaves.
t_norm=$(date +%s%N)
wait_log gw1 'msg="failover transition".* to=NORMAL' 60
wait_log gw2 'msg="failover transition".* to=NORMAL' 60
say "failover pair NORMAL ($(sec "$(ms_since "$t_norm")") s after gw1 was master)"
read -r a1 sid1 <<<"$(lease 02:00:00:00:02:a1)"
[[ $sid1 == "$VIP" ]] || die "client 1: server id '$sid1', want the VIP $VIP"
in_range "$a1" 100 199 || die "client 1: address '$a1' is not from the pool .100-.199"
say "client 1 (02:00:00:00:02:a1): lease $a1 from server id $sid1 (gw1 serving)"

# ---- cut gw1's power: the VIP must move to gw2 ----
t_cut=$(date +%s%N)
monitor gw1 quit
for i in $(seq 1 100); do kill -0 "${qpid[gw1]}" 2>/dev/null || break; sleep 0.05; done
kill -0 "${qpid[gw1]}" 2>/dev/null && die "gw1: qemu still running 5 s after quit"
wait "${qpid[gw1]}" 2>/dev/null || true
unset 'qpid[gw1]'
n_master=$(tr -d '\r' <"$LOGS/gw2.log" | grep -c 'to=master' || true)
deadline=$(($(date +%s) + 20))
while (($(tr -d '\r' <"$LOGS/gw2.log" | grep -c 'to=master' || true) <= n_master)); do
	(($(date +%s) < deadline)) || die "gw2 did not become master within 20 s of gw1's power cut"
	sleep 0.02
done
t_take=$(ms_since "$t_cut")
for i in $(seq 1 20); do
	m=$(vip_mac)
	[[ $m == "${mac[gw2]}" ]] && break
	sleep 0.25
done
[[ $m == "${mac[gw2]}" ]] || die "after the power cut the VIP answers ARP from '${m:-nobody}', want gw2 ${mac[gw2]}"
say "gw1 power cut: gw2 master after $t_take ms (RFC 5798 Master_Down_Interval: 3x100ms + 61ms skew = 361ms after the last advert); VIP answers ARP from gw2"

# Client 1 again (same MAC, asking for its address): gw2 knows its lease.
read -r a1b sid1b <<<"$(lease 02:00:00:00:02:a1 "$a1")"
[[ $a1b == "$a1" && $sid1b == "$VIP" ]] || die "client 1 at gw2: lease '$a1b' from '$sid1b', want its own $a1 from the VIP"
say "client 1 at gw2: same address $a1b (replicated before gw1's ACK)"
read -r a2 sid2 <<<"$(lease 02:00:00:00:02:a2)"
[[ $sid2 == "$VIP" ]] || die "client 2: server id '$sid2', want the VIP $VIP"
in_range "$a2" 100 199 || die "client 2: address '$a2' is not from the pool .100-.199"
[[ $a2 != "$a1" ]] || die "client 2 got client 1's address $a1"
say "client 2 (02:00:00:00:02:a2): lease $a2 from server id $sid2 (gw2's share of the pool)"

# ---- gw1 comes back: its journal survived on the state disk, it takes the
# VIP back (priority 200, preempt) ----
mv "$LOGS/gw1.log" "$LOGS/gw1.boot1.log"
boot gw1 1 "${state[@]}"
wait_log gw1 'msg="hadhcpd running"' 180
tr -d '\r' <"$LOGS/gw1.log" | grep -q 'state: /dev/vda mounted on /var/lib/hadhcpd' || die "gw1: state disk not mounted on its second boot"
records=$(tr -d '\r' <"$LOGS/gw1.log" | sed -n 's/.*msg="lease database open".* records=\([0-9]*\).*/\1/p' | head -n1)
if ! ((${records:-0} >= 1)); then
	die "gw1 leased $a1 before its power cut but its journal has ${records:-no} records after the reboot"
fi
wait_log gw1 'to=master' 60
for i in $(seq 1 20); do
	m=$(vip_mac)
	[[ $m == "${mac[gw1]}" ]] && break
	sleep 0.25
done
[[ $m == "${mac[gw1]}" ]] || die "gw1 is back but the VIP answers ARP from '${m:-nobody}'"
# Invariant 3: the VIP only after the resync (client 2's lease, given by
# gw2 while gw1 was off, must reach gw1 first).
order=$(tr -d '\r' <"$LOGS/gw1.log" | grep -oE 'msg="peer resync done"|to=master' | head -n2 | tr '\n' ' ')
[[ $order == 'msg="peer resync done" to=master ' ]] || die "gw1 took the VIP before its resync from gw2 (log order: $order)"
say "gw1 rebooted: $(sec "$(ms_since "${tboot[gw1]}")") s to master again (resync from gw2 first, then preempt), lease journal kept on its state disk ($records records)"

# ---- graceful power-off of the master (ACPI button -> acpid -> init ->
# SIGTERM -> priority-0 advert, RFC 5798 §6.4.3): gw2 takes over after
# its Skew_Time, not the full Master_Down_Interval ----
n_master=$(tr -d '\r' <"$LOGS/gw2.log" | grep -c 'to=master' || true)
t_off=$(date +%s%N)
monitor gw1 system_powerdown
deadline=$(($(date +%s) + 30))
while (($(tr -d '\r' <"$LOGS/gw2.log" | grep -c 'to=master' || true) <= n_master)); do
	(($(date +%s) < deadline)) || die "gw2 did not become master within 30 s of gw1's ACPI power-off"
	sleep 0.02
done
t_take2=$(ms_since "$t_off")
for i in $(seq 1 600); do kill -0 "${qpid[gw1]}" 2>/dev/null || break; sleep 0.05; done
kill -0 "${qpid[gw1]}" 2>/dev/null && die "gw1 did not power off within 30 s of the ACPI power button"
wait "${qpid[gw1]}" 2>/dev/null || true
unset 'qpid[gw1]'
tr -d '\r' <"$LOGS/gw1.log" | grep -q 'hadhcpd stopped; poweroff' || die "gw1 powered off without stopping hadhcpd (no 'hadhcpd stopped; poweroff' on its console)"
say "gw1 ACPI power-off: gw2 master after $t_take2 ms (from the button press: acpid, init, priority-0 advert), guest off after $(ms_since "$t_off") ms"

read -r a3 sid3 <<<"$(lease 02:00:00:00:02:a3)"
[[ $sid3 == "$VIP" ]] && in_range "$a3" 100 199 || die "client 3: lease '$a3' from '$sid3', want the pool from the VIP"
[[ $a3 != "$a1" && $a3 != "$a2" ]] || die "client 3 got an address already leased: $a3"
say "client 3 (02:00:00:00:02:a3): lease $a3 from server id $sid3 (gw2)"

if cat "$LOGS"/gw*.log | tr -d '\r' | grep -E 'level=ERROR|panic:|Kernel panic' >"$LOGS/errors.txt"; then
	cat "$LOGS/errors.txt" >&2
	die "errors on a guest console"
fi
say "PASS in $(elapsed) s (image build included; logs in $LOGS)"
