// A Web Push service for the tests, built on code nobody here wrote: http_ece decrypts
// (RFC 8188 aes128gcm with RFC 8291's key derivation), Node's crypto verifies the VAPID JWT
// (RFC 8292). HTTPS with HTTP/2 (and HTTP/1.1) on 127.0.0.1.
//
//   node receiver.js <cert.pem> <key.pem> <state dir>
//
// Writes <state dir>/subscription.json ({port, p256dh, auth}: one subscription key pair for
// every path) once it listens, and one JSON line per request to <state dir>/received.jsonl.
// Paths: /push/<x> answers 201; /gone/<x> 410; /busy/<x> 429 with Retry-After: 1 the first
// time, then 201.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http2 = require('http2');
const path = require('path');
const ece = require('http_ece');

const [certFile, keyFile, stateDir] = process.argv.slice(2);
const ecdh = crypto.createECDH('prime256v1');
ecdh.generateKeys();
const auth = crypto.randomBytes(16);
const b64url = (b) => Buffer.from(b).toString('base64url');
const busySeen = new Set();

function verifyVapid(header, origin) {
  // "vapid t=<jwt>, k=<key>"
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header || '');
  if (!m) return {ok: false, why: 'no vapid authorization'};
  const [jwt, k] = [m[1], m[2]];
  const parts = jwt.split('.');
  if (parts.length !== 3) return {ok: false, why: 'not a JWT'};
  const head = JSON.parse(Buffer.from(parts[0], 'base64url'));
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  if (head.alg !== 'ES256') return {ok: false, why: 'alg ' + head.alg};
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return {ok: false, why: 'bad k'};
  const key = crypto.createPublicKey({
    key: {kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33))},
    format: 'jwk',
  });
  const good = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]),
                             {key, dsaEncoding: 'ieee-p1363'}, Buffer.from(parts[2], 'base64url'));
  if (!good) return {ok: false, why: 'signature does not verify'};
  const now = Date.now() / 1000;
  if (claims.aud !== origin) return {ok: false, why: 'aud ' + claims.aud + ' is not ' + origin};
  if (!(claims.exp > now && claims.exp <= now + 86400)) return {ok: false, why: 'exp'};
  if (!/^(mailto:|https:)/.test(claims.sub || '')) return {ok: false, why: 'sub'};
  return {ok: true, k, sub: claims.sub};
}

const server = http2.createSecureServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  allowHTTP1: true,
}, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const port = server.address().port;
    const record = {
      path: req.url,
      method: req.method,
      http_version: req.httpVersion,
      content_encoding: req.headers['content-encoding'] || '',
      ttl: req.headers['ttl'] || '',
      urgency: req.headers['urgency'] || '',
      topic: req.headers['topic'] || '',
    };
    record.vapid = verifyVapid(req.headers['authorization'], 'https://127.0.0.1:' + port);
    try {
      record.plaintext = ece.decrypt(body, {version: 'aes128gcm', privateKey: ecdh,
                                            authSecret: b64url(auth)}).toString('utf8');
    } catch (e) {
      record.decrypt_error = String(e.message || e);
    }
    let status = 201;
    if (req.url.startsWith('/gone/')) status = 410;
    if (req.url.startsWith('/busy/') && !busySeen.has(req.url)) {
      busySeen.add(req.url);
      status = 429;
      res.setHeader('retry-after', '1');
    }
    record.status = status;
    fs.appendFileSync(path.join(stateDir, 'received.jsonl'), JSON.stringify(record) + '\n');
    res.statusCode = status;
    res.end();
  });
});

server.listen(0, '127.0.0.1', () => {
  const info = {port: server.address().port, p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth)};
  fs.writeFileSync(path.join(stateDir, 'subscription.json.tmp'), JSON.stringify(info));
  fs.renameSync(path.join(stateDir, 'subscription.json.tmp'),
                path.join(stateDir, 'subscription.json'));
});
process.on('SIGTERM', () => process.exit(0));
