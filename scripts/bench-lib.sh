# shellcheck shell=bash
# Common parts of the perfdhcp benchmarks (bench-dhcp.sh, bench-classes.sh,
# bench-ha.sh, bench-lb.sh); sourced, never run. One procedure for every server so that figures from one run can
# be compared:
#   find_rate KIND      the highest offered rate with <= 1 % drops (PROBE_SECS
#                       probes, each on a fresh server with an empty lease store)
#   measure KIND R S    S seconds at R: DORA/s, drops, CPU and RSS of the server
#                       (summed over its processes: both boxes of a pair), or,
#                       with "-x t", p50/p99 DISCOVER-OFFER and REQUEST-ACK
#
# The sourcing script sets WORK (a scratch directory), PROBE_SECS, POOL_BIG,
# PERF_NS, PERF_LOCAL (perfdhcp's own address: it is a relay, it binds port 67
# there and sets giaddr to it) and PERF_TARGET (where it sends), and defines:
#   start_server KIND POOLRANGE   KIND fresh (empty lease store), serving on return
#   stop_server                   stop every process start_server started, by PID
#   server_pids                   the PIDs whose CPU and RSS count for KIND
# A script that benchmarks one box at a time (bench-dhcp.sh, bench-classes.sh)
# calls bench_needs and one_box_lab instead: they set WORK, PERF_NS,
# PERF_LOCAL, PERF_TARGET and define stop_server and server_pids; its
# start_server starts a server in $SRV, sets SRV_PID and calls wait_serving.
# A pair benchmark (bench-ha.sh, bench-lb.sh) calls bench_needs and pair_lab
# (WORK, POOL_BIG, say, stop_server, server_pids), sets PERF_NS, PERF_LOCAL
# and PERF_TARGET, and runs bench_kinds.

# Debian's python3, not a user's pyenv shim (a shell script that costs a
# few hundred ms of CPU per call, next to the servers being measured).
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

# PIN=1: the server on CPU 1, perfdhcp on CPU 0 (taskset; a Go server then
# runs with GOMAXPROCS=1). On a 2-core machine the load generator and the
# server otherwise compete for the same cores, and the highest rate found
# is the machine's more than the server's; pinned, each server gets one
# core of its own, the same for every server.
SRV_PIN="" PERF_PIN=""
if [ "${PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then SRV_PIN="taskset -c 1" PERF_PIN="taskset -c 0"; fi

# PERF_THREADS: perfdhcp's -g (single by default, for every server). In its
# multi-thread mode (its default on a multi-core machine) a receiver thread
# hands each reply to the sending thread, and perf(1) shows the two fighting
# over glibc's malloc arena lock: perfdhcp then costs 60-95 % of a core at
# 6000 exchanges/s, and how much depends on when the server's replies come
# (in bursts after a group commit: more), so the run measures perfdhcp as
# much as the server. Single-thread mode, which perfdhcp's manual advises
# when CPUs are scarce, costs it ~50 % of a core at that rate whichever
# server answers. PERF_THREADS=multi gives perfdhcp's default.
PERF_THREADS=${PERF_THREADS:-single}

# BENCH_NICE: the nice value of every process of a run, servers and
# perfdhcp alike (-10: what hadhcpd's systemd unit gives it, and what it
# takes itself while it speaks VRRP). Left alone, a pair (VRRP: -10)
# outranked a perfdhcp at 0 on two shared cores and starved it (replies lost
# at its full socket were most of the pair's drops at its limit: 1,600-7,000
# per run), while the single box and Kea (no VRRP: 0) did not; the same
# value for everyone keeps the priority out of the comparison. The
# sourcing scripts start servers with $SRV_RUN.
BENCH_NICE=${BENCH_NICE:--10}
SRV_RUN="nice -n $BENCH_NICE${SRV_PIN:+ $SRV_PIN}"

# perf RATE SECS [extra flags]: runs perfdhcp, leaves its output in $WORK/perf.out.
# -r with -p, never -n alone (it ignores -r and floods); perfdhcp killed by a
# signal often dies without its report, hence the generous timeout.
# -W 1000000: after the SECS of sending, perfdhcp waits up to 1 s for the
# replies still under way. Without it every exchange in flight at the end
# counts as dropped (its drops are "sent - received" at exit), so a server
# answering in 5 ms (a group commit) rather than 0.3 ms loses ~rate x 5 ms
# exchanges per probe to the clock, not to the server: 75 of 27,000 at
# 9000/s, against 2 with -W. perfdhcp's own in-run drop time (-d) is 1 s, so
# this is the same rule at the end as during the run. perfdhcp's "Rate"
# then includes the wait, so DORA/s is counted here: REQUEST-ACK replies
# received / SECS.
# PERF_CPU is perfdhcp's share of one core over its run (user + system, from
# the shell's children times: perfdhcp is the only child that ends during
# it). Near 100 % the generator, not the server, sets the pace: replies
# then wait in perfdhcp's 208 KiB socket and a burst of them overflows it.
perf() {
	PERF_SECS=$2
	local w0=$EPOCHREALTIME w1
	times >"$WORK/times0"
	ip netns exec "$PERF_NS" $PERF_PIN nice -n "$BENCH_NICE" timeout $(($2 + 20)) perfdhcp -4 -g "$PERF_THREADS" -W 1000000 -r "$1" -p "$2" -R 10000000 -l "$PERF_LOCAL" ${3:-} ${PERF_TARGET:+"$PERF_TARGET"} >"$WORK/perf.out" 2>&1 || true
	times >"$WORK/times1"
	w1=$EPOCHREALTIME
	PERF_CPU=$(awk -v w="$w0 $w1" '
		function s(t) { split(t, a, "m"); return a[1] * 60 + a[2] }  # "1m2.345s"
		FNR == 2 { c[FILENAME] = s($1) + s($2) }
		END { split(w, x, " "); printf "%.0f", 100 * (c[ARGV[2]] - c[ARGV[1]]) / (x[2] - x[1]) }' "$WORK/times0" "$WORK/times1")
}

# stats: "dora_rate drops_pct_max" from perf.out.
stats() {
	python3 - "$WORK/perf.out" "$PERF_SECS" <<-'EOF'
	import re, sys
	t = open(sys.argv[1]).read()
	# The second "received packets" is the REQUEST-ACK exchange's (see perf).
	rcvd = re.findall(r"received packets: ([0-9]+)", t)
	drops = [float(x) for x in re.findall(r"drops ratio: ([0-9.]+) %", t)]
	print(int(rcvd[1]) / float(sys.argv[2]) if len(rcvd) > 1 else 0, max(drops) if drops else 100)
	EOF
}

# probe KIND RATE: a PROBE_SECS run on a fresh server; succeeds when drops
# <= 1 %. A failed probe is run once more (a fresh server again) and the
# rate passes if the second one does: on a 2-core machine one 3 s probe in
# several misses by a fraction of a percent for reasons outside the server,
# and one unlucky probe would stop the search low (the same rule for every
# server).
probe() {
	local r d try
	for try in 1 2; do
		start_server "$1" "$POOL_BIG"
		perf "$2" "$PROBE_SECS"
		read -r r d < <(stats)
		printf "  %-${KIND_W:-8}s probe %6d/s: %8.0f DORA/s, drops %5.2f %%%s\n" "$1" "$2" "$r" "$d" "$([ $try = 2 ] && echo ' (again)')" >&2
		python3 -c "import sys; sys.exit(0 if $d <= 1.0 else 1)" && return 0
	done
	return 1
}

# find_rate KIND: sets FOUND to the highest rate with <= 1 % drops (each probe
# on a fresh server). It runs in the calling shell, never in $(...): a server
# started in a subshell would outlive it (its PIDs are lost with the
# subshell) and keep answering during the next server's run.
find_rate() {
	local kind=$1 rate=2000 best=0
	# Below the start rate when even that drops (a loaded machine).
	while [ $rate -gt 125 ]; do
		if probe "$kind" $rate; then best=$rate; rate=$((rate * 3 / 2)); break; fi
		rate=$((rate / 2))
	done
	if [ $best -eq 0 ]; then stop_server; FOUND=125; return; fi
	while [ $rate -le 40000 ]; do
		if probe "$kind" $rate; then best=$rate; rate=$((rate * 3 / 2)); else break; fi
	done
	# Bisect between the last good and the first bad rate down to ~5 % of
	# the good one (three probes after a x1.5 step), so that two servers
	# close to each other are not rounded to the same rung.
	local bad=$rate
	while [ $bad -le 40000 ] && [ $((bad - best)) -gt $((best / 20)) ]; do
		local mid=$(((best + bad) / 2))
		if probe "$kind" $mid; then best=$mid; else bad=$mid; fi
	done
	stop_server
	FOUND=$best
}

# dhcp_section FIRST LAST ROUTER: the dhcp: section of every hadhcpd the
# benches run (one box or a pair), so that a single box is configured the
# same in bench-dhcp and bench-ha.
dhcp_section() {
	cat <<-EOF
	dhcp:
	  interfaces: [eth0]
	  default_lease_time: 1h
	  subnets:
	    - subnet: 198.18.0.0/15
	      pools: [{range: $1-$2}]
	      options: {routers: [$3], domain_name_servers: [$3]}
	EOF
}

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

# rcvbuf_errors: UDP datagrams the kernel dropped in perfdhcp's namespace
# because a socket's receive buffer was full: replies that reached perfdhcp's
# host but not perfdhcp (it fell behind; a burst of ACKs after a group
# commit fills its 208 KiB buffer sooner than replies spread out do).
rcvbuf_errors() { ip netns exec "$PERF_NS" awk '/^Udp:/ {if (++n == 2) print $6}' /proc/net/snmp; }

# measure KIND RATE SECS [perfdhcp flags]: writes its result lines to
# $WORK/measure.out: the human line, then a "RESULT KIND ..." line. CPU and RSS
# are those of server_pids (`ip netns exec` and `env` exec, they do not fork,
# so these are the servers themselves), read from /proc by this shell; for
# more than one process the line gives their sum and each one's CPU.
# KIND_W is the width of the KIND column (8 unless set).
measure() {
	local kind=$1 rate=$2 secs=$3 pids p t0="" t1="" rss=""
	start_server "$kind" "$POOL_BIG"
	pids=$(server_pids)
	for p in $pids; do t0="$t0 $(cpu_ticks "$p")"; done
	local rb0 rb1
	rb0=$(rcvbuf_errors)
	perf "$rate" "$secs" "${4:-}"
	rb1=$(rcvbuf_errors)
	for p in $pids; do
		t1="$t1 $(cpu_ticks "$p")"
		rss="$rss $(awk '/VmHWM/ {print $2}' /proc/"$p"/status)"
	done
	# after_measure KIND [perfdhcp flags], when the sourcing script defines
	# it, checks the servers' state before they stop; its lines follow the
	# result line.
	local extra=""
	if declare -F after_measure >/dev/null; then extra=$(after_measure "$kind" "${4:-}"); fi
	stop_server
	KIND_W=${KIND_W:-8} python3 - "$WORK/perf.out" "$kind" "$rate" "$(getconf CLK_TCK)" "$secs" "$t0" "$t1" "$rss" "$((rb1 - rb0))" "$PERF_CPU" <<-'EOF'
	import os, re, sys
	path, kind, rate, hz, secs, t0, t1, rss, rcvbuf, perfcpu = sys.argv[1:]
	t = open(path).read()
	rcvd = re.findall(r"received packets: ([0-9]+)", t)
	dora = int(rcvd[1]) / float(secs) if len(rcvd) > 1 else 0.0  # see perf
	drops = [float(x) for x in re.findall(r"drops ratio: ([0-9.]+) %", t)]
	# -x t prints "sent / received: S / R" (seconds) per successful exchange.
	def pct(section):
	    sec = re.search(r"Timestamps for packets: " + section + r"\*+\n(.*?)(?=\*\*\*|\Z)", t, re.S)
	    vals = []
	    if sec:
	        for a, b in re.findall(r"sent / received: ([0-9.]+) / ([0-9.]+)", sec.group(1)):
	            vals.append((float(b) - float(a)) * 1000)
	    if not vals: return (float("nan"),) * 2
	    vals.sort()
	    return vals[len(vals)//2], vals[min(len(vals)-1, int(len(vals)*0.99))]
	do = pct("DISCOVER-OFFER"); ra = pct("REQUEST-ACK")
	cpus = [100.0 * (int(b) - int(a)) / int(hz) / float(secs) for a, b in zip(t0.split(), t1.split())]
	cpu = sum(cpus)
	rss = sum(int(x) for x in rss.split())
	k = kind.ljust(int(os.environ["KIND_W"]))
	if do[0] == do[0]:  # latency run (-x t): not NaN
	    print(f"{k} rate {int(rate):6d}/s  DISCOVER-OFFER p50/p99 {do[0]:.3f}/{do[1]:.3f} ms  REQUEST-ACK p50/p99 {ra[0]:.3f}/{ra[1]:.3f} ms")
	else:
	    each = "" if len(cpus) < 2 else "  (CPU per box " + " + ".join(f"{c:.1f}" for c in cpus) + " %)"
	    print(f"{k} rate {int(rate):6d}/s  DORA/s {dora:8.0f}  drops {max(drops) if drops else 100:5.2f} %  "
	          f"CPU {cpu:5.1f} %  RSS {rss//1024} MiB{each}  replies lost at perfdhcp's full socket {rcvbuf} (perfdhcp CPU {perfcpu} %)")
	# RESULT KIND DORA/s CPU% REQUEST-ACK-p50 p99 (ms; nan without -x t)
	print(f"RESULT {kind} {dora} {cpu:.1f} {ra[0]:.3f} {ra[1]:.3f}")
	EOF
	[ -z "$extra" ] || echo "$extra"
} >"$WORK/measure.out"

# bench_needs NAME CMD...: exits the script (0: a skip, not a failure) unless
# it runs as root with every CMD installed.
bench_needs() {
	local name=$1 c
	shift
	if [ "$(id -u)" != 0 ]; then echo "$name: needs root (network namespaces); skipped" >&2; exit 0; fi
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "$name: $c not installed (make deps); skipped" >&2; exit 0; }
	done
}

# one_box_lab PREFIX: the topology of the one-box benchmarks: namespaces
# PREFIX$$-srv ($SRV, the server at 198.18.0.1/15) and PREFIX$$-cli ($CLI,
# perfdhcp at 198.18.0.2/15) joined by a veth named eth0 on both sides, a
# fresh $WORK with hadhcpd built into it, and an EXIT trap that stops the
# server and removes all of it. It defines stop_server (the one process
# SRV_PID) and server_pids for the procedure above.
one_box_lab() {
	local id=$1$$
	SRV=$id-srv CLI=$id-cli
	WORK=$(mktemp -d "/tmp/$1-bench.XXXXXX")
	SRV_PID=""
	PERF_NS=$CLI PERF_LOCAL=198.18.0.2 PERF_TARGET=198.18.0.1
	stop_server() {
		if [ -n "$SRV_PID" ]; then
			kill "$SRV_PID" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$SRV_PID" 2>/dev/null || true
			wait "$SRV_PID" 2>/dev/null || true
			SRV_PID=""
		fi
	}
	server_pids() { echo "$SRV_PID"; }
	trap one_box_cleanup EXIT

	go build -trimpath -o "$WORK/hadhcpd" ./cmd/hadhcpd

	ip netns add "$SRV"
	ip netns add "$CLI"
	ip link add "${id}a" netns "$SRV" type veth peer name "${id}b" netns "$CLI"
	ip -n "$SRV" link set "${id}a" name eth0
	ip -n "$CLI" link set "${id}b" name eth0
	ip -n "$SRV" addr add 198.18.0.1/15 dev eth0
	ip -n "$CLI" addr add 198.18.0.2/15 dev eth0
	local ns
	for ns in $SRV $CLI; do ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; done
}

# one_box_cleanup: one_box_lab's EXIT trap.
one_box_cleanup() {
	stop_server
	local ns p
	for ns in $SRV $CLI; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
}

# wait_serving NAME KIND: waits (5 s at most) until the server in $SRV
# listens on UDP port 67 or, Kea, has a packet socket open, then exits the
# script with the server's log if SRV_PID has died.
wait_serving() {
	for _ in $(seq 100); do
		if ip netns exec "$SRV" ss -uln 2>/dev/null | grep -q ':67 ' || ip netns exec "$SRV" ss -0 -a 2>/dev/null | grep -q .; then break; fi
		sleep 0.05
	done
	sleep 0.5 # a raw socket opens after the UDP one
	kill -0 "$SRV_PID" 2>/dev/null || { echo "$1: $2 did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
}

# pool_size RANGE: how many addresses "FIRST-LAST" holds.
pool_size() {
	python3 -c "import ipaddress as i, sys; a, b = sys.argv[1].split('-'); print(int(i.ip_address(b)) - int(i.ip_address(a)) + 1)" "$1"
}

# run_secs RATE NAME: how long to measure at RATE new clients per second
# (sets SECS): RUN_SECS, shortened so that the run hands out at most 80 %
# of the POOL_BIG range; a longer run would measure the pool's size, not
# the server. Every server of a run is measured by the same rule.
run_secs() {
	local size
	size=$(pool_size "$POOL_BIG")
	local s=$((size * 8 / 10 / $1))
	((s > RUN_SECS)) && s=$RUN_SECS
	((s < 3)) && s=3
	[ "$s" = "$RUN_SECS" ] || echo "   ($2: ${s} s, not ${RUN_SECS} s: $1/s for longer would use more than 80 % of the ${size}-address pool)"
	SECS=$s
}
# pair_lab NAME PREFIX KEA_HA_TMPL: the topology of the pair benchmarks
# (bench-ha.sh, bench-lb.sh; NAME in every message, say's): namespaces PREFIX$$-hub (a bridge), PREFIX$$-pri ($PRI,
# 198.18.0.2/15), PREFIX$$-sec ($SEC, .3) and PREFIX$$-cli ($CLI, perfdhcp at
# .4), the two boxes also joined by sync0 (198.51.100.1 and .2/24); a fresh
# $WORK with hadhcpd built into it and the pair's peer key; POOL_BIG; and an
# EXIT trap that stops every server and removes all of it. Exits (a skip)
# without Kea's HA hooks, or without kea-dhcp4.json.tmpl and KEA_HA_TMPL
# (Kea HA's hooks, rendered by kea_config) in PEERS. It defines
# stop_server (every PID in SRV_PIDS, then the VIP off both boxes) and
# server_pids; the sourcing script defines start_server.
pair_lab() {
	BENCH=$1 KEA_HA_TMPL=$3
	say() { echo "$BENCH: $*" >&2; }
	local ns spec n h f
	KEA_HOOKS=${KEA_HOOKS:-/usr/lib/x86_64-linux-gnu/kea/hooks}
	for h in libdhcp_ha.so libdhcp_lease_cmds.so; do
		[ -e "$KEA_HOOKS/$h" ] || { say "$KEA_HOOKS/$h missing (kea-dhcp4-server; or set KEA_HOOKS); skipped"; exit 0; }
	done
	PEERS=${PEERS:-$PWD/bench/peers} # the Kea templates, kept in the repository
	for f in kea-dhcp4.json.tmpl "$KEA_HA_TMPL"; do
		[ -r "$PEERS/$f" ] || { say "$PEERS/$f missing (set PEERS to the peer templates' folder)"; exit 1; }
	done

	ID=$2$$
	HUB=$ID-hub PRI=$ID-pri SEC=$ID-sec CLI=$ID-cli
	WORK=$(mktemp -d "/tmp/$2-bench.XXXXXX")
	SRV_PIDS=()
	declare -gA LOG_MARK # hadhcpd log lines before the current run, by box
	PROBE_SECS=${PROBE_SECS:-3}
	RUN_SECS=${RUN_SECS:-15}
	LAT_SECS=${LAT_SECS:-5}
	# DHCP, HTTP listener and HTTP client threads of each Kea HA box; 0 is
	# Kea's default, "auto": one per CPU core.
	KEA_THREADS=${KEA_THREADS:-0}
	READY_SECS=${READY_SECS:-60}  # bound on a pair reaching its serving state
	VIP=198.18.0.1
	KIND_W=6

	stop_server() {
		local p
		for p in "${SRV_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
		for p in "${SRV_PIDS[@]}"; do
			for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		done
		SRV_PIDS=()
		# A hadhcpd stopped gracefully removes its VIP; one that had to be
		# killed leaves it, and the next server must not find it there.
		for ns in $PRI $SEC; do ip -n "$ns" addr del $VIP/15 dev eth0 2>/dev/null || true; done
	}
	server_pids() { echo "${SRV_PIDS[@]}"; }
	cleanup() {
		stop_server
		for ns in $CLI $PRI $SEC $HUB; do
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
			ip netns del "$ns" 2>/dev/null || true
		done
		rm -rf "$WORK"
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	go build -trimpath -o "$WORK/hadhcpd" ./cmd/hadhcpd

	ip netns add $HUB
	ip -n $HUB link set lo up
	ip -n $HUB link add br0 type bridge forward_delay 0 stp_state 0
	ip -n $HUB link set br0 up
	n=0
	for spec in $PRI:198.18.0.2 $SEC:198.18.0.3 $CLI:198.18.0.4; do
		ns=${spec%:*} n=$((n + 1))
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip link add ${ID}l$n netns "$ns" type veth peer name ${ID}h$n netns $HUB
		ip -n "$ns" link set ${ID}l$n name eth0
		ip -n "$ns" addr add "${spec#*:}/15" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n $HUB link set ${ID}h$n master br0 up
	done
	ip link add ${ID}s1 netns $PRI type veth peer name ${ID}s2 netns $SEC
	ip -n $PRI link set ${ID}s1 name sync0
	ip -n $SEC link set ${ID}s2 name sync0
	ip -n $PRI addr add 198.51.100.1/24 dev sync0
	ip -n $SEC addr add 198.51.100.2/24 dev sync0
	ip -n $PRI link set sync0 up
	ip -n $SEC link set sync0 up

	# The 130k pool of bench-dhcp.sh: the /15 minus the lab's own addresses.
	POOL_BIG="198.18.1.0-198.19.255.254"

	head -c 48 /dev/urandom >"$WORK/peer.key"
	chmod 600 "$WORK/peer.key"
}

# Every server of a pair benchmark starts under SRV_RUN: BENCH_NICE and, with PIN=1,
# bench-dhcp's rule: the whole service on CPU 1, perfdhcp alone on CPU 0. A
# pair's two boxes then share the one core a single box has to itself
# (stricter for a pair than two real boxes), and perfdhcp never waits for a
# server's CPU.

# start_hadhcpd NS NAME: runs NAME's config in NS, its log in $WORK/NAME/log.
start_hadhcpd() {
	ip netns exec "$1" $SRV_RUN "$WORK/hadhcpd" run -c "$WORK/$2/hadhcpd.yaml" >"$WORK/$2/log" 2>&1 &
	SRV_PIDS+=($!)
}

# hadhcpd_status NAME: the fields pair_ready needs, from `status --json`:
# "failover-state vrrp-state backup-addresses".
hadhcpd_status() {
	timeout 5 "$WORK/hadhcpd" status --json -c "$WORK/$1/hadhcpd.yaml" 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
fo = (s.get("failover") or {}).get("state", "-")
vr = s["vrrp"][0]["state"] if s.get("vrrp") else "-"
print(fo, vr, sum(p.get("backup", 0) for p in s.get("pools") or []))' 2>/dev/null || echo "- - 0"
}

# pair_ready: both boxes in NORMAL, the primary VRRP master holding the VIP,
# and the secondary owning BACKUP addresses (the primary hands the
# standby_share over in batches, 256 a second: the pair replicates every
# lease from here on, and the balancer keeps moving the rest of the share
# during the run, as it does on a pair that has just started): PAIR_P and
# PAIR_S, the boxes' names, set by start_server; MIN_BACKUP (1 unless set),
# the BACKUP addresses the secondary must own.
pair_ready() {
	local p s pf pv sf sb
	p=$(hadhcpd_status "$PAIR_P") s=$(hadhcpd_status "$PAIR_S")
	LAST="primary: $p; secondary: $s"
	read -r pf pv _ <<<"$p"
	read -r sf _ sb <<<"$s"
	[ "$pf" = NORMAL ] && [ "$sf" = NORMAL ] && [ "$pv" = MASTER ] && [ "$sb" -ge "${MIN_BACKUP:-1}" ] &&
		ip -n $PRI -4 -o addr show dev eth0 | grep -q " $VIP/"
}

# kea_config NAME NS-ADDR THIS: a Kea HA box (THIS s1 = primary, s2 = the
# partner), its hooks from pair_lab's KEA_HA_TMPL.
kea_config() {
	local d=$WORK/$1 first=${POOL_BIG%-*} last=${POOL_BIG#*-}
	mkdir -p "$d/state"
	python3 - "$PEERS" "$d" "$2" "$3" "$first" "$last" "$KEA_THREADS" "$KEA_HOOKS" "$BENCH" "$KEA_HA_TMPL" <<-'EOF'
	import re, sys
	peers, d, addr, this, first, last, threads, hooks, bench, ha_tmpl = sys.argv[1:]
	def render(name, vals):
	    t = open(f"{peers}/{name}").read()
	    for k, v in vals.items():
	        t = t.replace(f"@{k}@", v)
	    left = sorted(set(re.findall(r"@([A-Z0-9_]+)@", t)))
	    if left:
	        raise SystemExit(f"{bench}: {name}: placeholders left: {left}")
	    return t
	# Kea HA's defaults (max-response-delay 60 s, max-ack-delay 10 s, 10
	# unacked clients; lease updates sent and acknowledged before the
	# client's ACK), except the heartbeat: at its default 10 s a pair
	# started together takes ~35 s to leave the waiting state, at 1 s a few
	# seconds. Heartbeats are not on the lease path: this run measures
	# serving, not failing over.
	hooks_json = render(ha_tmpl, {
	    "KEA_HOOKS": hooks, "THIS": this, "HA_HEARTBEAT_DELAY": "1000",
	    "HA_MAX_RESPONSE_DELAY": "60000", "HA_MAX_ACK_DELAY": "10000",
	    "HA_MAX_UNACKED_CLIENTS": "10", "KEA_THREADS": threads,
	    "S1_SYNC": "198.51.100.1", "S2_SYNC": "198.51.100.2"})
	cfg = render("kea-dhcp4.json.tmpl", {
	    "LAN_IF": "eth0", "MY_LAN": addr, "STATE": f"{d}/state", "KEA_MT": "true",
	    "KEA_THREADS": threads, "LEASE_TIME": "3600", "RENEW_TIME": "1800",
	    "REBIND_TIME": "3150", "LAN_NET": "198.18.0.0", "LAN_PFX": "15",
	    "POOL_START": first, "POOL_END": last, "VIP": "198.18.0.1",
	    "HOOKS": hooks_json, "KEA_LOG_SEVERITY": "WARN"})
	open(f"{d}/kea.json", "w").write(cfg)
	EOF
}

# start_kea NS NAME: Kea keeps PID and lock files in /run/kea unless told.
start_kea() {
	ip netns exec "$1" $SRV_RUN env KEA_PIDFILE_DIR="$WORK/$2" KEA_LOCKFILE_DIR="$WORK/$2" \
		kea-dhcp4 -c "$WORK/$2/kea.json" >"$WORK/$2/log" 2>&1 &
	SRV_PIDS+=($!)
}

# kea_ha_state NAME: the HA state from ha-heartbeat on its control socket.
kea_ha_state() {
	python3 - "$WORK/$1/state/kea4.sock" <<-'EOF' 2>/dev/null || echo "-"
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(2)
	s.connect(sys.argv[1])
	s.sendall(b'{"command": "ha-heartbeat"}')
	buf = b""
	while True:
	    b = s.recv(65536)
	    if not b: break
	    buf += b
	    try: r = json.loads(buf); break
	    except ValueError: pass
	print(r.get("arguments", {}).get("state", "-"))
	EOF
}

# wait_ready WHAT TEST: polls TEST (bounded by READY_SECS) while every
# server process lives.
wait_ready() {
	local until=$(($(date +%s) + READY_SECS)) p
	LAST=""
	until $2; do
		for p in "${SRV_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null || { say "$1: a server exited during startup"; dump_logs; exit 1; }
		done
		[ "$(date +%s)" -lt $until ] || { say "$1 not ready within ${READY_SECS}s ($LAST)"; dump_logs; exit 1; }
		sleep 0.1
	done
}

dump_logs() {
	local f
	for f in "$WORK"/*/log "$WORK"/*/state/kea-dhcp4.log; do
		[ -s "$f" ] || continue
		echo "--- ${f#"$WORK"/} (tail)" >&2
		tail -n 20 "$f" >&2
	done
}

# kea_leases NAME: how many addresses NAME's memfile CSV holds a lease for.
kea_leases() {
	tail -n +2 "$WORK/$1/state/kea-leases4.csv" 2>/dev/null | cut -d, -f1 | sort -u | wc -l
}

# active_leases NAME: how many ACTIVE leases NAME's database holds ("?" on error).
active_leases() {
	timeout 60 "$WORK/hadhcpd" leases --json --state active -c "$WORK/$1/hadhcpd.yaml" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo "?"
}

# bench_kinds: every kind in KINDS (array) on the same procedure: the
# highest rate with <= 1 % drops (RATE_<KIND>, e.g. RATE_KEA_HA, preset
# skips the search), a RUN_SECS run at it (run_secs's cap), then a LAT_SECS
# perfdhcp -x t run of each at LAT, the lowest rate found. Fills the
# associative arrays RATE, DORA, CPU, P50, P99 by kind.
bench_kinds() {
	local k v
	declare -gA RATE DORA CPU P50 P99
	echo "== finding the highest rate with <= 1 % drops (${PROBE_SECS} s probes, 130k pool)"
	for k in "${KINDS[@]}"; do
		v=RATE_$(echo "$k" | tr 'a-z-' 'A-Z_')
		if [ -n "${!v:-}" ]; then RATE[$k]=${!v}; else find_rate "$k"; RATE[$k]=$FOUND; fi
	done
	echo "== ${RUN_SECS} s at that rate (130k pool; CPU of a pair: the sum, per box primary + secondary)"
	for k in "${KINDS[@]}"; do
		run_secs "${RATE[$k]}" "$k"
		measure "$k" "${RATE[$k]}" "$SECS"
		grep -v '^RESULT' "$WORK/measure.out"
		read -r _ _ "DORA[$k]" "CPU[$k]" _ < <(grep '^RESULT' "$WORK/measure.out")
	done
	LAT=$(printf '%s\n' "${RATE[@]}" | sort -n | head -n 1)
	echo "== latency per exchange half, ${LAT_SECS} s of each at ${LAT}/s (perfdhcp -x t)"
	for k in "${KINDS[@]}"; do
		measure "$k" "$LAT" "$LAT_SECS" "-x t"
		grep -v '^RESULT' "$WORK/measure.out"
		read -r _ _ _ _ "P50[$k]" "P99[$k]" < <(grep '^RESULT' "$WORK/measure.out")
	done
}
