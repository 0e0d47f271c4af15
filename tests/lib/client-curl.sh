#!/bin/bash
# A mail fetcher on curl's pop3:// and pop3s://, as shell scripts use it.
#
#   client-curl.sh [--stls|--ssl] [--cafile F] [--state F] [--delete]
#                  HOST PORT USER PASSWORD OUTDIR
#
# Same contract as client-poplib.py.  curl runs one POP3 command per URL:
# a first session asks UIDL (-X UIDL); a second fetches every message
# whose UIDL is not in the --state file with RETR (pop3://HOST/N) and,
# with --delete, DELEs them (-X DELE -I) -- all URLs of one curl command
# reuse one connection, so that is one session and one QUIT.  --stls is
# --ssl-reqd on pop3:// (curl sends STLS), --ssl is pop3s://.  curl
# chooses the login itself: APOP when the greeting has a timestamp, else
# SASL PLAIN or USER/PASS.  Exit 0; 3 when the server refuses the login
# (curl's error 67 on stderr); 1 otherwise.
set -u
scheme=pop3 tls=() state='' delete=''
while [ $# -gt 5 ]; do
	case $1 in
	--stls) tls+=(--ssl-reqd) ;;
	--ssl) scheme=pop3s ;;
	--cafile) tls+=(--cacert "$2"); shift ;;
	--state) state=$2; shift ;;
	--delete) delete=1 ;;
	*) echo "client-curl: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
[ $# -eq 5 ] || { echo "usage: client-curl.sh [opts] HOST PORT USER PASS DIR" >&2; exit 1; }
host=$1 port=$2 user=$3 pass=$4 outdir=$5
url="$scheme://$host:$port"
common=(-sS --max-time 120 -u "$user:$pass" "${tls[@]}")

listing=$(curl "${common[@]}" -X UIDL "$url/")
case $? in
0) ;;
67) exit 3 ;;
*) exit 1 ;;
esac
declare -A seen=()
if [ -n "$state" ] && [ -f "$state" ]; then
	while read -r uid; do seen[$uid]=1; done < "$state"
fi
args=() fetch=() keep=()
while read -r num uid; do
	uid=${uid%$'\r'}
	[ -n "$num" ] || continue
	if [ -n "${seen[$uid]:-}" ]; then
		keep+=("$uid")
		continue
	fi
	[ -n "$delete" ] || keep+=("$uid")
	fetch+=("$num")
	[ ${#args[@]} -eq 0 ] || args+=(--next)
	args+=("${common[@]}" "$url/$num" -o "$(printf '%s/%06d' "$outdir" "$num")")
done <<< "$listing"
if [ -n "$delete" ]; then
	for num in "${fetch[@]}"; do
		args+=(--next "${common[@]}" -X DELE -I "$url/$num")
	done
fi
if [ ${#args[@]} -gt 0 ]; then
	# -I prints the DELE reply; it is not a message
	curl "${args[@]}" > /dev/null
	case $? in
	0) ;;
	67) exit 3 ;;
	*) exit 1 ;;
	esac
fi
if [ -n "$state" ]; then
	printf '%s\n' "${keep[@]}" | grep . | sort > "$state"
fi
echo "fetched ${#fetch[@]}"
