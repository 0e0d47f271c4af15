/*
 * params.h - every limit, default and timeout of pop3d, with its reason.
 *
 * Change a value here and nowhere else.  Values that a standard fixes say
 * which RFC section; the others say what they trade.
 */
#ifndef PARAMS_H
#define PARAMS_H

#define POP3D_VERSION	"1.0"

/* ---- The protocol ---- */

/* RFC 2449 section 4: a command line is at most 255 octets with CRLF. */
#define CMD_LINE_MAX	255

/* RFC 1939 section 3: an argument is at most 40 characters (PASS and
   AUTH data excepted: pass phrases and base64 are longer). */
#define ARG_MAX_LEN	40
#define MAX_ARGS	2

/* Input is read in big gulps so a pipelined session costs few reads;
   replies are corked in the output buffer until input runs out. */
#define IN_BUF		16384
#define OUT_BUF		(256 * 1024)

/* RETR and TOP convert a message straight into the output buffer and
   send it once less than this is free: writes stay near OUT_BUF, and a
   line end's CR LF and a stuffed dot always fit. */
#define OUT_ROOM_MIN	4096

/* RFC 1939 section 3: the autologout timer is at least 10 minutes. */
#define DEFAULT_TIMEOUT	600
#define MAX_TIMEOUT	86400

/* ---- Logging in ---- */

/* A failed login waits this long (RFC 1939 section 13 suggests a pause);
   more than a minute only ties up the superserver's process slots. */
#define DEFAULT_FAIL_DELAY 2
#define MAX_FAIL_DELAY	60

/* The connection is closed after this many failed logins. */
#define MAX_AUTH_FAILS	3

/* uids below this are system accounts and never log in by default. */
#define DEFAULT_MIN_UID	1000

/* The longest user name looked up; longer ones are refused unseen. */
#define AUTH_NAME_MAX	64

/* A decoded SASL PLAIN response: a command line's base64 fits. */
#define AUTH_PLAIN_MAX	256

/* passwd-file and APOP-file lines longer than this are malformed. */
#define AUTH_LINE_MAX	1024

/* A dummy hash is picked among at most this many distinct methods. */
#define MAX_HASH_METHODS 8

/* ---- The maildrop ---- */

#define DEFAULT_MAILDROP "/var/mail/%u"

/* A lock held by someone else is waited for about 10 s (README
   "Locking"); then login answers [IN-USE] and QUIT [SYS/TEMP]. */
#define LOCK_WAIT	10

/* A dotlock without a live local pid is stale after 5 minutes without
   being touched: liblockfile's rule, which Debian's MDAs follow. */
#define STALE_SECS	300

/* Lock retries: short enough to feel instant, long enough not to spin. */
#define LOCK_RETRY_MS	50

/* An update that runs long touches its dotlock this often: well inside
   the STALE_SECS after which lockers without a pid call a lock stale. */
#define LOCK_REFRESH_SECS 60

/* Retrying a dotlock's removal: a lock left behind blocks procmail for
   17 minutes, so a transient error (EIO, EINTR on NFS) is retried. */
#define UNLOCK_TRIES	3

/* A dotlock holds "pid hostname\n"; a hostname is at most HOST_NAME_MAX
   (64 on Linux), so this always fits. */
#define DOTLOCK_CONTENT_MAX 128

/* A line of /proc/stat as read for its btime line, which is short; a
   longer line (intr) is read in pieces of digits, none starting "btime". */
#define PROC_STAT_LINE	256

/* Our side files next to the mailbox.  Account names ending like these
   are refused (README "Accounts"), so no account reaches another's. */
#define LOCK_SUFFIX	".lock"
#define JOURNAL_SUFFIX	".pop3d-journal"
#define JOURNAL_TMP_SUFFIX ".pop3d-journal.tmp"
#define JOURNAL_ORPHAN_SUFFIX ".orphan"

/* The journal's header block: one page, so its state byte is rewritten
   within one sector; the marker that tells a cut file from an uncut one
   is at most this long (shorter when fewer bytes follow the kept ones). */
#define JHDR_SIZE	4096
#define JMARK_MAX	32

/* Coarse timestamps: after indexing, the lock is held until the clock
   leaves the tick of the file's times.  The tick is clock_getres's (4 ms
   at HZ=250); this many naps bound the wait, and this tick is assumed if
   clock_getres fails. */
#define SETTLE_TRIES	4
#define SETTLE_TICK_MAX_NS 10000000L

/* Reads while indexing are this large: big enough that the syscall cost
   vanishes next to scanning, small enough to stay in L2 on small hosts.
   Updates copy bytes through the same buffer. */
#define SCAN_BUF	(1024 * 1024)

/* RETR and TOP read this much at a time.  A message that fits is read
   with the ones after it, up to this much, and proven once: a client
   that retrieves message after message costs one read and one fstat per
   SEND_CHUNK, not per message.  A longer message is streamed through the
   same buffer.  TOP reads ahead only TOP_FIRST_READ, and of a longer
   message that much first: most TOP n 0 answers fit in it, and TOP of
   every message must not read the whole of each. */
#define SEND_CHUNK	(256 * 1024)
#define TOP_FIRST_READ	(16 * 1024)

/* A line head this long is enough to classify the line: a From_ line,
   "From MAILER-DAEMON ", the pseudo-message's Subject, a Content-Length
   with 20 digits.  A line start with fewer bytes left in the buffer and
   no LF is carried over to the next read instead. */
#define HEAD_MIN	80

/* Content-Length: more digits than this (10^19 - 1 fits in 64 bits) is
   not a length any file has; the bytes peeked at its end are enough for
   "\r\nFrom x". */
#define CLEN_DIGITS_MAX	19
#define CLEN_PEEK	8

/* Memory grows with the number of messages: one 40-byte index entry
   each, plus a 20-byte digest once UIDL is asked, so about 120 MB at
   this limit.  A bigger mailbox is served its first MAX_MSGS messages;
   the rest wait for a later session (README "Maildrop").  The index
   starts with room for INDEX_FIRST_CAP and doubles. */
#ifndef MAX_MSGS
#define MAX_MSGS	2000000u
#endif
#define INDEX_FIRST_CAP	1024u

/* Fingerprinted blocks: 1 MiB, big enough that a MAC init per block is
   noise, small enough that proving one message reads little around it;
   bigger for very large files, so that their number, and the memory they
   take, stays bounded by TAG_MAX_BLOCKS. */
#define TAG_BLOCK	(1024 * 1024)
#define TAG_MAX_BLOCKS	65536
#define TAG_LEN		16

/* UIDL digests are SHA-256 cut to this many bytes (32 hex digits): far
   beyond any chance collision among a mailbox's messages. */
#define UIDL_DIGEST_LEN	16

/* The persistent index (README "Persistent index"): next to the mailbox
   by default, so that it follows the mailbox's owner and file system. */
#define DEFAULT_INDEX	"%m.pop3d-index"

/* Writing the index takes well under a second, so a temp file older than
   this was left by a writer that crashed and is removed; a younger one
   belongs to a writer at work, and this session skips writing (it is a
   cache).  Long enough for a writer on a loaded host. */
#define INDEX_TMP_STALE	60

/* The index file is read and written through one buffer of this many
   messages' records and digests, so that a session never holds a second
   copy of its index: big enough that the system calls are noise, small
   enough to sit on the stack. */
#define INDEX_IO_RECS	512

/* A login on a grown mailbox scans its new bytes; writing the index
   again at the end of the session would spare later logins that scan,
   but costs its SHA-256 and write, about as much as scanning this many
   times its bytes (SHA-256 ~1.7 GB/s plus the write, against a separator
   scan at ~5 GB/s).  So it is written again only once the bytes scanned
   are at least that many times the index (or the session learnt
   something else: UIDLs, an update, doubtful blocks proven). */
#define INDEX_TAIL_REWRITE 4

/* ---- PROXY protocol (HAProxy's "The PROXY protocol" v1 and v2) ---- */

/* v1 section 2.1: a v1 header is at most 107 octets, CRLF included. */
#define PROXY_V1_MAX	107

/* v2 section 2.2: 16 fixed octets, then a 16-bit length of addresses
   and TLVs.  The largest address block (AF_UNIX) is 216 octets; the
   rest leaves room for the TLVs HAProxy and stunnel send (ALPN,
   authority, unique id up to 128, SSL) while keeping what the front
   reads before the first POP3 byte small. */
#define PROXY_V2_MAX	1024

/* After refusing a header, this many reads of PROXY_V2_MAX octets drop
   what the client already sent (more than a header's worth), so that
   closing the socket sends no reset that would lose the -ERR. */
#define PROXY_DRAIN_READS 4

/* --proxy-from: this many networks; a balancer pair or a few subnets
   is the case, and the list is matched on every connection. */
#define PROXY_FROM_MAX	16

/* --tls-cert/--tls-key pairs, chosen by SNI: a few names per host; each
   pair is loaded at every connection. */
#define TLS_PAIRS_MAX	8

/* ---- Per-source penalty (README "Brute force") ---- */

/* The state's directory; it lives on tmpfs and goes at reboot. */
#define DEFAULT_PENALTY_DIR "/run/pop3d"

/* A fixed table of PENALTY_SETS x PENALTY_WAYS addresses (under 10,000);
   an address hashes to one set of PENALTY_WAYS entries
   and a new one takes the oldest, so guessing from many addresses costs
   the guesser its own entries, never unbounded state. */
#define PENALTY_SETS	1024
#define PENALTY_WAYS	8

/* An address without a failure for this long starts again from zero. */
#define PENALTY_EXPIRE	(15 * 60)

/* Seconds before answering the 2nd, 3rd, ... failed attempt; the last
   value repeats.  The cap stays well under the superserver's patience
   and RFC 1939's 10-minute autologout. */
#define PENALTY_SCHEDULE { 0, 1, 2, 4, 8, 15 }

/* The peer as logged: a numeric IPv6 address (INET6_ADDRSTRLEN), or a
   launcher's word for it, with room to spare. */
#define PEER_TEXT_MAX	80

/* ---- Privilege separation (README "Security") ---- */

/* The pre-authentication process runs as this user, chrooted here:
   an empty root-owned directory, so a compromised front sees nothing. */
#define FRONT_USER	"pop3d"
#define FRONT_ROOT	"/var/lib/pop3d/empty"

/* The front keeps fds 0-2, its link to root and syslog's socket; it
   opens nothing after its setup, so a few more than those will do. */
#define FRONT_NOFILE	8

/* A record's payload: a command line's worth of text is the most any
   credential takes; a hand-off carries up to IN_BUF read-ahead bytes. */
#define AUTHREC_MAX	(IN_BUF + 1)
#define AUTHREC_TEXT_MAX 512

/* The TLS relay moves up to this much per direction at a time: a TLS
   record's worth of plaintext, twice. */
#define RELAY_BUF	(32 * 1024)

/* Total time allowed in AUTHORIZATION however slowly a client trickles
   bytes (each byte restarts the autologout timer, this does not). */
#define DEFAULT_LOGIN_TIMEOUT 120

/* After the login deadline, root waits this long for the front to say
   goodbye to the client, then kills it. */
#define FRONT_GRACE_MS	2000

/* Client text in a syslog line is escaped (\xNN: four octets each)
   and cut to this many octets. */
#define LOG_TEXT_MAX	(4 * AUTH_NAME_MAX + 1)

/* How long root waits for the front's hand-off after a good login. */
#define HANDOFF_WAIT_MS	5000

/* ---- Exit statuses: 0 after QUIT or EOF ---- */
#define EXIT_INTERNAL	1	/* an internal failure */
#define EXIT_SETUP	2	/* a bad option or an unusable file */

#endif
