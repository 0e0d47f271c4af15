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

/* Reads while indexing are this large: big enough that the syscall cost
   vanishes next to scanning, small enough to stay in L2 on small hosts. */
#define SCAN_BUF	(1024 * 1024)

/* RETR reads this much at a time; the converted output is at most 2x.
   TOP reads less first: most TOP n 0 answers fit in it. */
#define SEND_CHUNK	(256 * 1024)
#define TOP_FIRST_READ	(16 * 1024)

/* A line head this long is enough to classify the line ("From x",
   "X-IMAPbase:").  A line start with fewer bytes left in the buffer and
   no LF is carried over to the next read instead. */
#define HEAD_MIN	16

/* Memory grows with the number of messages (one index entry each, plus
   a digest once UIDL is asked); this bounds it at about 140 MB. */
#define MAX_MSGS	2000000u

/* Fingerprinted blocks: 1 MiB, big enough that a MAC init per block is
   noise, small enough that proving one message reads little around it;
   bigger for very large files, so that their number, and the memory they
   take, stays bounded by TAG_MAX_BLOCKS. */
#define TAG_BLOCK	(1024 * 1024)
#define TAG_MAX_BLOCKS	65536
#define TAG_LEN		16

/* UIDL digests: two threads from a mailbox of this size on */
#define HASH_SPLIT_MIN	(16 * 1024 * 1024)

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
