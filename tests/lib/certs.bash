# tests/lib/certs.bash - a throw-away self-signed certificate for
# "localhost" (and 127.0.0.1) with its key, plus the bad files the option
# tests use (tls.bats, privsep.bats, proxy.bats).

# tls_certs DIR: $CERT, $KEY, $OTHER_KEY (another key), $ENC_CERT and
# $ENC_KEY (a pair whose key is encrypted, pass phrase "hunter2"),
# $JUNK (not PEM), $CERT_DER (the certificate in DER).
tls_certs() {
	local dir=$1
	CERT=$dir/cert.pem
	KEY=$dir/key.pem
	OTHER_KEY=$dir/other-key.pem
	ENC_CERT=$dir/enc-cert.pem
	ENC_KEY=$dir/enc-key.pem
	JUNK=$dir/junk.pem
	CERT_DER=$dir/cert.der
	[ -s "$CERT" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null &&
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$OTHER_KEY" 2>/dev/null &&
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
	    -aes256 -pass pass:hunter2 -out "$ENC_KEY" 2>/dev/null &&
	openssl req -x509 -key "$ENC_KEY" -passin pass:hunter2 \
	    -out "$ENC_CERT" -days 2 -subj /CN=localhost 2>/dev/null &&
	openssl x509 -in "$CERT" -outform DER -out "$CERT_DER" || return 1
	echo "this is not a certificate" > "$JUNK"
	chmod 644 "$CERT" "$KEY" "$OTHER_KEY" "$ENC_CERT" "$ENC_KEY" "$JUNK"
}
