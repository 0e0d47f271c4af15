/*
 * auth.c - checking who a client is, and becoming that user.
 *
 * Every failure takes the same road as a wrong password: one crypt() on
 * either the account's hash or a dummy hash of the method and cost most
 * accounts use, so neither the reply nor the time tells whether a name
 * exists.  Secrets are wiped as soon as they have been checked.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <paths.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "params.h"


struct account {
	struct auth_user u;
	char hash[CRYPT_OUTPUT_SIZE];
	int found;
	const char *refusal;	/* why a found account may not log in */
};

/* ---------------------------------------------------------------- */
/* The dummy hash: the method and cost most accounts use             */

struct methods {
	char key[MAX_HASH_METHODS][40];
	char example[MAX_HASH_METHODS][CRYPT_OUTPUT_SIZE];
	unsigned count[MAX_HASH_METHODS];
	unsigned n;
};

/*
 * The part of a hash that decides its cost: "$6$", "$6$rounds=N$",
 * "$y$j9T$", "$2b$12$".  Returns 0 for hashes that cannot be a template
 * (locked, empty, DES).
 */
static int
method_key(const char *hash, char *key, size_t size)
{
	const char *id_end, *param_end;
	size_t len;

	if (hash[0] != '$' || (id_end = strchr(hash + 1, '$')) == NULL)
		return 0;
	len = (size_t)(id_end + 1 - hash);
	param_end = strchr(id_end + 1, '$');
	if (param_end != NULL && (strncmp(id_end + 1, "rounds=", 7) == 0 ||
	    hash[1] == 'y' || hash[1] == '2' || hash[1] == '7' ||
	    strncmp(hash, "$gy$", 4) == 0))
		len = (size_t)(param_end + 1 - hash);
	if (len >= size)
		return 0;
	memcpy(key, hash, len);
	key[len] = '\0';
	return 1;
}

static void
methods_add(struct methods *m, const char *hash)
{
	char key[40];
	unsigned i;

	if (!method_key(hash, key, sizeof(key)) ||
	    strlen(hash) >= CRYPT_OUTPUT_SIZE)
		return;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->key[i], key) == 0) {
			m->count[i]++;
			return;
		}
	if (m->n == MAX_HASH_METHODS)
		return;
	memcpy(m->key[m->n], key, strlen(key) + 1);
	memcpy(m->example[m->n], hash, strlen(hash) + 1);
	m->count[m->n++] = 1;
}

static void
methods_pick(const struct methods *m, char *dummy)
{
	unsigned best = 0;

	for (unsigned i = 1; i < m->n; i++)
		if (m->count[i] > m->count[best])
			best = i;
	if (m->n > 0) {
		memcpy(dummy, m->example[best], strlen(m->example[best]) + 1);
		return;
	}
	/* no account to imitate: libxcrypt's default method and cost */
	if (crypt_gensalt_rn(NULL, 0, NULL, 0, dummy,
	    CRYPT_GENSALT_OUTPUT_SIZE) == NULL)
		memcpy(dummy, "$6$pop3ddummysalt", 18);
}

/* ---------------------------------------------------------------- */
/* Account checks shared by both sources                             */

/* Does the name end like a side file pop3d keeps next to a mailbox
   (README "Locking" and "Crash safety"), so that its mailbox path would
   be another account's lock, journal or index? */
static int
side_file_name(const char *name)
{
	size_t len = strlen(name);

	return (len >= 5 && strcmp(name + len - 5, ".lock") == 0) ||
	    strstr(name, ".lock.") != NULL || strstr(name, ".pop3d-") != NULL;
}

int
auth_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > AUTH_NAME_MAX || name[0] == '-' ||
	    name[0] == '.' || strstr(name, "..") != NULL ||
	    side_file_name(name))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '/' || *p == ':')
			return 0;
	return 1;
}

static const char *
id_refusal(const struct auth_config *cfg, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return "uid 0 never logs in";
	if (gid == 0)
		return "gid 0 never logs in";
	if (uid < cfg->min_uid)
		return "uid below --min-uid";
	return NULL;
}

static const char *
hash_refusal(const char *hash)
{
	if (hash[0] == '\0')
		return "empty password hash";
	if (hash[0] == '!' || hash[0] == '*')
		return "account is locked";
	return NULL;
}

/* shadow(5) ageing, the way login(1) reads it. */
static const char *
shadow_refusal(const struct spwd *sp)
{
	long today = (long)(time(NULL) / 86400);

	if (sp->sp_expire > 0 && today >= sp->sp_expire)
		return "account has expired";
	if (sp->sp_lstchg == 0)
		return "password must be changed";
	if (sp->sp_lstchg > 0 && sp->sp_max >= 0 &&
	    today >= sp->sp_lstchg + sp->sp_max)
		return "password has expired";
	return NULL;
}

static int
copy_str(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/* ---------------------------------------------------------------- */
/* System accounts: getpwnam(3) and getspnam(3)                      */

static int
not_found_errno(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF ||
	    e == EPERM;
}

/*
 * Every hash in the shadow file votes for the dummy's method; root only
 * can read it.  The file itself, not getspent(): enumerating every NSS
 * source (systemd's userdb, say) costs more than the rest of a login,
 * and a source that lists no hashes would not vote anyway.
 */
static void
system_dummy(char *dummy)
{
	struct methods m;
	struct spwd *sp;
	FILE *f;

	memset(&m, 0, sizeof(m));
	if ((f = fopen(_PATH_SHADOW, "re")) != NULL) {
		while ((sp = fgetspent(f)) != NULL)
			methods_add(&m, sp->sp_pwdp);
		(void)fclose(f);
	}
	methods_pick(&m, dummy);
	explicit_bzero(&m, sizeof(m));
}

static enum auth_result
shadow_unreadable(const char **why)
{
	syslog(LOG_ERR, "cannot read the shadow file (pop3d must start as "
	    "root to check system passwords)");
	*why = "cannot read the account database";
	return AUTH_TEMP;
}

static enum auth_result
system_find(const struct auth_config *cfg, const char *name,
    struct account *a, char *dummy, const char **why)
{
	struct passwd *pw;
	struct spwd *sp;
	const char *hash;

	/*
	 * getspnam cannot tell "no entry" from "no permission": with
	 * "shadow: files systemd" the files module's EACCES is lost.  Ask
	 * the file, before the name is looked up, so that every name gets
	 * the same answer.
	 */
	if (faccessat(AT_FDCWD, _PATH_SHADOW, R_OK, AT_EACCESS) != 0 &&
	    errno == EACCES)
		return shadow_unreadable(why);
	system_dummy(dummy);
	/*
	 * A name the first source (files) lacks is looked up in the next
	 * ones too (nsswitch.conf): Debian's nss-systemd is loaded for it
	 * and asked, a fraction of a millisecond that a name in
	 * /etc/passwd never pays.  A name no source can have goes to every
	 * source first, so that each lookup costs the same (the login's
	 * group lookup would load the same modules anyway).
	 */
	(void)getpwnam("");
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (not_found_errno(errno))
			return AUTH_OK;
		syslog(LOG_ERR, "getpwnam: %s", strerror(errno));
		*why = "cannot read the account database";
		return AUTH_TEMP;
	}
	a->found = 1;
	a->u.uid = pw->pw_uid;
	a->u.gid = pw->pw_gid;
	a->u.source = SOURCE_SYSTEM;
	if (copy_str(a->u.name, sizeof(a->u.name), pw->pw_name) != 0 ||
	    copy_str(a->u.home, sizeof(a->u.home), pw->pw_dir) != 0) {
		a->refusal = "name or home directory too long";
		return AUTH_OK;
	}
	hash = pw->pw_passwd;
	if (strcmp(hash, "x") == 0) {
		errno = 0;
		if ((sp = getspnam(name)) == NULL) {
			if (errno == EACCES)
				return shadow_unreadable(why);
			a->refusal = "no shadow entry";
			return AUTH_OK;
		}
		hash = sp->sp_pwdp;
		a->refusal = shadow_refusal(sp);
	}
	if (a->refusal == NULL)
		a->refusal = id_refusal(cfg, a->u.uid, a->u.gid);
	if (a->refusal == NULL)
		a->refusal = hash_refusal(hash);
	if (copy_str(a->hash, sizeof(a->hash), hash) != 0 &&
	    a->refusal == NULL)
		a->refusal = "password hash too long";
	return AUTH_OK;
}

/* ---------------------------------------------------------------- */
/* A passwd(5)-format file: name:hash:uid:gid:gecos:home:shell       */

static int
parse_id(const char *s, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || *v >= 0xffffffffUL ? -1 : 0;
}

/* Split a line into its seven fields; -1 if it is not one. */
static int
split_passwd(char *line, char *f[7])
{
	int n = 0;
	char *p = line;

	f[n++] = p;
	while ((p = strchr(p, ':')) != NULL) {
		if (n == 7)
			return -1;
		*p++ = '\0';
		f[n++] = p;
	}
	return n == 7 ? 0 : -1;
}

static void
file_entry(const struct auth_config *cfg, const char *name, char *f[7],
    struct account *a, struct methods *m)
{
	unsigned long uid, gid;

	(void)parse_id(f[2], &uid);
	(void)parse_id(f[3], &gid);
	if (uid >= cfg->min_uid && uid != 0)
		methods_add(m, f[1]);
	if (a->found || strcmp(f[0], name) != 0)
		return;
	a->found = 1;
	a->u.uid = (uid_t)uid;
	a->u.gid = (gid_t)gid;
	a->u.source = SOURCE_FILE;
	if (copy_str(a->u.name, sizeof(a->u.name), f[0]) != 0 ||
	    copy_str(a->u.home, sizeof(a->u.home), f[5]) != 0 ||
	    copy_str(a->hash, sizeof(a->hash), f[1]) != 0) {
		a->refusal = "entry too long";
		return;
	}
	a->refusal = id_refusal(cfg, a->u.uid, a->u.gid);
	if (a->refusal == NULL)
		a->refusal = hash_refusal(f[1]);
}

/* fopen() for a regular file only: a FIFO must not hang a session. */
static FILE *
open_regular(const char *path)
{
	struct stat st;
	FILE *fp;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return NULL;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		(void)close(fd);
	return fp;
}

static enum auth_result
file_find(const struct auth_config *cfg, const char *name,
    struct account *a, char *dummy, const char **why)
{
	struct methods m;
	char *line = NULL, *f[7];
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0, id;
	FILE *fp;

	if ((fp = open_regular(cfg->passwd_file)) == NULL) {
		syslog(LOG_ERR, "open %s: %s", cfg->passwd_file,
		    strerror(errno));
		*why = "cannot read the account database";
		return AUTH_TEMP;
	}
	memset(&m, 0, sizeof(m));
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((size_t)len > AUTH_LINE_MAX || strlen(line) != (size_t)len ||
		    split_passwd(line, f) != 0 || f[0][0] == '\0' ||
		    parse_id(f[2], &id) != 0 || parse_id(f[3], &id) != 0) {
			syslog(LOG_WARNING, "%s:%lu: malformed line skipped",
			    cfg->passwd_file, lineno);
			continue;
		}
		file_entry(cfg, name, f, a, &m);
	}
	if (ferror(fp)) {
		syslog(LOG_ERR, "read %s: %s", cfg->passwd_file,
		    strerror(errno));
		*why = "cannot read the account database";
		(void)fclose(fp);
		if (line != NULL)
			explicit_bzero(line, cap);
		free(line);
		explicit_bzero(&m, sizeof(m));
		return AUTH_TEMP;
	}
	(void)fclose(fp);
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	methods_pick(&m, dummy);
	explicit_bzero(&m, sizeof(m));
	return AUTH_OK;
}

static enum auth_result
account_find(const struct auth_config *cfg, const char *name,
    struct account *a, char *dummy, const char **why)
{
	memset(a, 0, sizeof(*a));
	if (cfg->passwd_file != NULL)
		return file_find(cfg, name, a, dummy, why);
	return system_find(cfg, name, a, dummy, why);
}

/* ---------------------------------------------------------------- */
/* Checking secrets                                                  */

/* crypt(3) through libxcrypt; the comparison takes constant time. */
static int
hash_matches(const char *pass, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	size_t len = strlen(hash);
	int ok = 0;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return 0;
	out = crypt_rn(pass, hash, cd, sizeof(*cd));
	if (out != NULL && out[0] != '*' && strlen(out) == len)
		ok = CRYPTO_memcmp(out, hash, len) == 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static enum auth_result
finish(struct account *a, int secret_ok, struct auth_user *u,
    const char **why)
{
	int ok = secret_ok && a->found && a->refusal == NULL;

	if (ok)
		*u = a->u;
	else if (a->found && a->refusal != NULL)
		syslog(LOG_INFO, "login refused for %s: %s", a->u.name,
		    a->refusal);
	explicit_bzero(a->hash, sizeof(a->hash));
	*why = ok ? NULL : "invalid user name or password";
	return ok ? AUTH_OK : AUTH_FAIL;
}

enum auth_result
auth_password(const struct auth_config *cfg, const char *name, char *pass,
    struct auth_user *u, const char **why)
{
	struct account a;
	char dummy[CRYPT_OUTPUT_SIZE];
	enum auth_result r;
	int ok;

	r = account_find(cfg, name, &a, dummy, why);
	if (r != AUTH_OK) {
		explicit_bzero(pass, strlen(pass));
		return r;
	}
	/* one crypt() whatever the account: unknown costs as much */
	ok = hash_matches(pass, a.found && a.refusal == NULL ? a.hash :
	    dummy);
	explicit_bzero(pass, strlen(pass));
	explicit_bzero(dummy, sizeof(dummy));
	return finish(&a, ok, u, why);
}

enum auth_result
auth_lookup(const struct auth_config *cfg, const char *name,
    struct auth_user *u, const char **why)
{
	struct account a;
	char dummy[CRYPT_OUTPUT_SIZE];
	enum auth_result r;

	memset(u, 0, sizeof(*u));	/* u->name "" means no such account */
	if ((r = account_find(cfg, name, &a, dummy, why)) != AUTH_OK)
		return r;
	explicit_bzero(a.hash, sizeof(a.hash));
	if (!a.found) {
		*why = "no such user";
		return AUTH_FAIL;
	}
	*u = a.u;
	*why = a.refusal;
	return a.refusal == NULL ? AUTH_OK : AUTH_FAIL;
}

/* ---------------------------------------------------------------- */
/* APOP (RFC 1939 section 7): MD5(timestamp secret), in hex           */

int
auth_apop_usable(const char *path, const char **why)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0) {
		*why = "cannot read the APOP secrets file";
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		(void)close(fd);
		*why = "cannot read the APOP secrets file";
		return -1;
	}
	(void)close(fd);
	if (!S_ISREG(st.st_mode)) {
		*why = "the APOP secrets file is not a regular file";
		errno = EINVAL;
		return -1;
	}
	if (st.st_uid != geteuid() ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		syslog(LOG_ERR, "%s must be a file owned by %s with no group "
		    "or other access; APOP disabled", path,
		    geteuid() == 0 ? "root" : "the pop3d user");
		*why = "APOP secrets file has unsafe ownership or mode";
		return 0;
	}
	return 1;
}

/* Find name's secret; *found says whether there was one. */
static int
apop_secret(const char *path, const char *name, char *secret, size_t size,
    int *found)
{
	char *line = NULL;
	size_t cap = 0, nlen = strlen(name);
	ssize_t len;
	FILE *fp;

	*found = 0;
	if ((fp = open_regular(path)) == NULL) {
		syslog(LOG_ERR, "open %s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (*found || (size_t)len <= nlen || line[nlen] != ':' ||
		    strncmp(line, name, nlen) != 0)
			continue;
		if (line[nlen + 1] == '\0') {
			/* MD5(timestamp) alone: anyone could log in */
			syslog(LOG_WARNING, "%s: empty APOP secret for %s "
			    "ignored", path, name);
			continue;
		}
		if (copy_str(secret, size, line + nlen + 1) == 0)
			*found = 1;
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	(void)fclose(fp);
	return 0;
}

static int
hex_decode(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex[2 * i], lo;
		if (hi == '\0' || (lo = hex[2 * i + 1]) == '\0' ||
		    !isxdigit(hi) || !isxdigit(lo))
			return -1;
		hi = isdigit(hi) ? hi - '0' : tolower(hi) - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : tolower(lo) - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : -1;
}

enum auth_result
auth_apop(const struct auth_config *cfg, const char *name,
    const char *timestamp, const char *digest, struct auth_user *u,
    const char **why)
{
	struct account a;
	char dummy[CRYPT_OUTPUT_SIZE], secret[AUTH_LINE_MAX];
	unsigned char want[EVP_MAX_MD_SIZE], got[16];
	EVP_MD_CTX *ctx;
	enum auth_result r;
	int found, ok = 0;

	if ((r = account_find(cfg, name, &a, dummy, why)) != AUTH_OK)
		return r;
	explicit_bzero(dummy, sizeof(dummy));
	if (apop_secret(cfg->apop_file, name, secret, sizeof(secret),
	    &found) != 0) {
		explicit_bzero(a.hash, sizeof(a.hash));
		*why = "cannot read the APOP secrets";
		return AUTH_TEMP;
	}
	if (!found)
		memcpy(secret, "-", 2);	/* same work for unknown names */
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, want, NULL) == 1 &&
	    hex_decode(digest, got, sizeof(got)) == 0)
		ok = CRYPTO_memcmp(want, got, sizeof(got)) == 0 && found;
	EVP_MD_CTX_free(ctx);
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(want, sizeof(want));
	return finish(&a, ok, u, why);
}

/* ---------------------------------------------------------------- */
/* SASL PLAIN (RFC 4616): base64 of authzid NUL authcid NUL passwd    */
/* (decoded in the pre-authentication process; root checks the parts) */

/* RFC 4648 section 3.3: nothing outside the alphabet, which OpenSSL's
   decoder would skip (blanks, line ends) or stop at ('-'); and its
   padding only at the end, at most two (section 3.2). */
static int
base64_strict(const char *s, size_t len)
{
	size_t data = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/");

	return len - data <= 2 && strspn(s + data, "=") == len - data;
}

int
auth_plain_decode(const char *b64, char raw[AUTH_PLAIN_MAX],
    const char **authz, const char **authc, const char **pass)
{
	EVP_ENCODE_CTX *ctx;
	int n1 = 0, n2 = 0, ok = 0;
	size_t len = strlen(b64);
	char *end, *c, *p;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 >= AUTH_PLAIN_MAX ||
	    !base64_strict(b64, len) || (ctx = EVP_ENCODE_CTX_new()) == NULL)
		return -1;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, (unsigned char *)raw, &n1,
	    (const unsigned char *)b64, (int)len) >= 0 &&
	    EVP_DecodeFinal(ctx, (unsigned char *)raw + n1, &n2) == 1)
		ok = 1;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok)
		return -1;
	len = (size_t)(n1 + n2);
	raw[len] = '\0';
	end = raw + len;
	/* RFC 4616 section 2: [authzid] NUL authcid NUL passwd, the last
	   two of at least one octet each */
	if ((c = memchr(raw, '\0', len)) == NULL || ++c >= end ||
	    (p = memchr(c, '\0', (size_t)(end - c))) == NULL || p == c ||
	    ++p >= end || memchr(p, '\0', (size_t)(end - p)) != NULL)
		return -1;
	*authz = raw;
	*authc = c;
	*pass = p;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Becoming the user                                                 */

int
auth_become(const struct auth_user *u, const gid_t *groups, int ngroups,
    gid_t spool_gid, const char **why)
{
	gid_t saved = spool_gid != (gid_t)-1 ? spool_gid : u->gid;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (geteuid() != 0) {
		if (u->uid == getuid())
			return 0;
		syslog(LOG_ERR, "pop3d runs as uid %u, not root, and cannot "
		    "serve %s (uid %u)", (unsigned)getuid(), u->name,
		    (unsigned)u->uid);
		*why = "server is not running as root and can serve only "
		    "its own user";
		return -1;
	}
	*why = "cannot switch to the user";
	if (ngroups < 0 || setgroups((size_t)ngroups, groups) != 0) {
		syslog(LOG_ERR, "setting the groups of %s: %s", u->name,
		    ngroups < 0 ? "cannot list them" : strerror(errno));
		return -1;
	}
	if (setresgid(u->gid, u->gid, saved) != 0) {
		syslog(LOG_ERR, "setresgid %u: %s", (unsigned)u->gid,
		    strerror(errno));
		return -1;
	}
	if (setresuid(u->uid, u->uid, u->uid) != 0) {
		syslog(LOG_ERR, "setresuid %u: %s", (unsigned)u->uid,
		    strerror(errno));
		return -1;
	}
	/* prove it: root must be gone for good */
	if (setuid(0) == 0 || seteuid(0) == 0 ||
	    getresuid(&ruid, &euid, &suid) != 0 ||
	    getresgid(&rgid, &egid, &sgid) != 0 ||
	    ruid != u->uid || euid != u->uid || suid != u->uid ||
	    rgid != u->gid || egid != u->gid || sgid != saved) {
		syslog(LOG_CRIT, "privilege drop to %s did not hold", u->name);
		return -1;
	}
	return auth_no_dump(why);
}

int
auth_no_dump(const char **why)
{
#if !defined(__SANITIZE_ADDRESS__)
	/* every credential change resets it (prctl(2)): the TLS key and
	   passwords passed through this process, so no core dump and no
	   ptrace by the user it now is.  LeakSanitizer needs ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		syslog(LOG_ERR, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		*why = "cannot protect the process";
		return -1;
	}
#else
	(void)why;
#endif
	return 0;
}
