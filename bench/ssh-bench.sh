#!/bin/sh
# ssh-bench.sh - the ssh route (ipc-sshd, doc/network.md) against raw ssh
# pipes on the same loopback sshd, in one run (issue 20's targets):
#   - 1 MiB messages echoed, 8 in flight: the route (client -> ipc-sshd ->
#     ssh -> sshd -> ipcctl bridge -> pongd) against `ssh HOST cat`;
#   - 64-byte ping-pong: the route against a raw framed ping-pong through
#     a session of the same shared ssh connection (ssh HOST cat, with
#     ipc-sshd's ControlPath);
#   - the connect time of the first client (ssh makes the connection) and
#     of the second (a session on the shared one).
# Like tests/test-sshd, it starts its own sshd on 127.0.0.1 and a free
# port with throwaway keys (as root it needs /run/sshd), and SHLVL=1 in
# the sessions' environment keeps bash from reading ~/.bashrc.
#
# The loopback raw pipe's speed swings from run to run (93 to 297 MB/s
# were seen for `ssh cat` on a shared machine), so the route and its raw
# twin run ROUNDS times, alternately (the first of the pair alternates
# too), and each "target" line is the median of the rounds' ratios, with
# their spread: one slow raw round does not decide a row.
#
# Run from the build tree after make check's programs are built:
#   make bench-ssh            (or: sh ../bench/ssh-bench.sh)
# Prints each round's rows, then "target" lines with the median ratios;
# exits 77 when OpenSSH is missing.  Environment: SSHD (default
# /usr/sbin/sshd), ROUNDS (default 7), COUNT (1 MiB messages a round,
# default 100), PINGS (round trips a round, default 2000).
#
# SPDX-License-Identifier: ISC

set -eu

sshd=${SSHD:-/usr/sbin/sshd}
rounds=${ROUNDS:-7}
count=${COUNT:-100}
pings=${PINGS:-2000}
bin=tests/bin
bench=bench/ssh-bench

for p in "$sshd" "$(command -v ssh || true)" "$(command -v ssh-keygen || true)"; do
	if [ -z "$p" ] || [ ! -x "$p" ]; then
		echo "ssh-bench: OpenSSH's sshd, ssh and ssh-keygen are needed" >&2
		exit 77
	fi
done
for p in $bin/ipc-sshd $bin/ipcd $bin/pongd $bin/ipcctl $bench; do
	[ -x "$p" ] || { echo "ssh-bench: $p missing: run make check first" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ssh-bench.XXXXXX")
pids=
cleanup()
{
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

mkdir -m 0700 "$dir/local" "$dir/remote" "$dir/ctl"
ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
cp "$dir/id.pub" "$dir/authorized_keys"
port=$($bench port)
cat >"$dir/sshd_config" <<EOT
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxSessions 100
SetEnv SHLVL=1
LogLevel ERROR
EOT
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
cat >"$dir/ssh_config" <<EOT
Host *
  IdentityFile $dir/id
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
EOT
chmod 600 "$dir/ssh_config"

"$sshd" -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
pids="$pids $!"
IPC_RUNDIR=$dir/remote $bin/pongd 2>/dev/null &
pids="$pids $!"
IPC_RUNDIR=$dir/local $bin/ipcd 2>/dev/null &
pids="$pids $!"
IPC_RUNDIR=$dir/local $bin/ipc-sshd --ssh-config "$dir/ssh_config" \
	--control-dir "$dir/ctl" \
	--remote-command "IPC_RUNDIR=$dir/remote $PWD/$bin/ipcctl" \
	2>"$dir/ipc-sshd.log" &
pids="$pids $!"
for s in remote/pong local/ipc local/ssh; do
	while [ ! -S "$dir/$s" ]; do sleep 0.05; done
done
while ! ssh -F "$dir/ssh_config" -o BatchMode=yes -p "$port" 127.0.0.1 true 2>/dev/null; do
	sleep 0.1
done

export IPC_RUNDIR=$dir/local
export IPC_NETWORK="pong ssh://127.0.0.1:$port/pong"
raw="ssh -T -F $dir/ssh_config -o BatchMode=yes -p $port"
shared="$raw -o ControlMaster=no -o ControlPath=$dir/ctl/0"

row()	# NAME SIZE COUNT WINDOW "msgs/s MB/s p50 p99"
{
	printf '%-24s %8s %6s %3s %10s %9s %10s %10s\n' "$1" "$2" "$3" "$4" $5
}
ratio()	# A B: A/B with two decimals
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
# The median of the numbers in $1, then the count and their spread.
median()
{
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		      printf "%.2f (rounds %d, spread %.2f-%.2f)", m, NR, v[1], v[NR] }'
}
# One measure by its scenario $1, "route" or "raw": $2 payload bytes, $3
# messages, $4 in flight, $5 the raw test's ssh command, $6 and $7 the
# rows' names; prints its row and leaves the bench's figures in $r.
measure()
{
	if [ "$1" = route ]; then
		r=$($bench route pong "$2" "$3" "$4")
		row "$6 #$i" "$2" "$3" "$4" "$r"
	else
		r=$($bench raw "$2" "$3" "$4" -- $5 127.0.0.1 cat)
		row "$7 #$i" "$2" "$3" "$4" "$r"
	fi
}
# The figure each ratio uses: MB/s for 1 MiB, msgs/s (and the median
# round trip) for ping-pong.
big()
{
	measure "$1" 1048576 "$count" 8 "$raw" "1MiB ssh-route" \
		"1MiB raw ssh cat"
	set -- $r
	fig=$2
}
pingpong()
{
	measure "$1" 64 "$pings" 1 "$shared" "64B ping ssh-route" \
		"64B ping shared cat"
	set -- $r
	fig=$1
	p50=$3
}
pair()	# big|pingpong: both scenarios, in round $i's order; sets $last
{
	if [ $((i % 2)) = 1 ]; then
		$1 route; a=$fig; a50=${p50:-1}; $1 raw; b=$fig; b50=${p50:-1}
	else
		$1 raw; b=$fig; b50=${p50:-1}; $1 route; a=$fig; a50=${p50:-1}
	fi
	last=$(ratio "$a" "$b")
	last_p50=$(ratio "$b50" "$a50")
}

# Connect: the first client makes the connection, the second shares it.
first=$($bench connect pong)
second=$($bench connect pong)

printf '%-24s %8s %6s %3s %10s %9s %10s %10s\n' scenario size count win \
	msgs/s MB/s p50_us p99_us
big_ratios=
ping_ratios=
p50_ratios=
i=1
while [ "$i" -le "$rounds" ]; do
	pair big
	big_ratios="$big_ratios $last"
	pair pingpong
	ping_ratios="$ping_ratios $last"
	p50_ratios="$p50_ratios $last_p50"
	i=$((i + 1))
done
printf 'connect first %s ms, second %s ms\n' "$first" "$second"
echo "target 1MiB throughput route/raw $(median "$big_ratios") (>= 0.70)"
echo "target 64B ping-pong route/raw $(median "$ping_ratios") (>= 0.70)"
# Not a target: the rates above are means, which a few slow round trips
# (a process waiting for a busy CPU) set; the medians' ratio shows that.
echo "info 64B round trip p50 raw/route $(median "$p50_ratios")"
echo "target connect second/first $(ratio "$second" "$first") (<= 0.20)"
