// A Web Push service for the tests, built on code nobody here wrote: http_ece decrypts
// (RFC 8188 aes128gcm with RFC 8291's key derivation), Node's crypto verifies the VAPID JWT
// (RFC 8292). HTTPS with HTTP/2 (and HTTP/1.1) on 127.0.0.1.
//
//   node receiver.js <cert.pem> <key.pem> <state dir>
//
// Writes <state dir>/subscription.json ({port, p256dh, auth}: one subscription key pair for
// every path) once it listens, and one JSON line per request to <state dir>/received.jsonl.
// Paths: /push/<x> answers 201; /gone/<x> 410; /busy/<x> 429 with Retry-After: 1 the first
// time, then 201. GET /stats answers what it has counted (below).
//
// For the crash test and the fan-out benchmark (environment):
//   RECEIVER_DELAY_MS=N     every push is answered N ms after its body arrived, so deliveries
//                           are in flight when the gateway is killed (default 0)
//   RECEIVER_RECORD=counts  no line per request in received.jsonl: only the counts (default all)
//   RECEIVER_DECRYPT_EVERY=N  decrypt and check VAPID of every Nth push only (default 1)
// GET /stats: {requests, statuses: {code: n}, decrypted, decrypt_failures, vapid_failures,
// unanswered (the gateway went away before the answer), held (bodies received, not answered
// yet), distinct_jwts (VAPID signatures verified), connections (TLS connections accepted),
// aborted (requests cut off before their whole body arrived: not counted as pushes), failures
// (the first 20 decryption or VAPID failures), plaintexts: {text: n}, first_ms, last_ms}, and with ?paths=1 by_path: {path: n}.
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
const delayMs = Number(process.env.RECEIVER_DELAY_MS || 0);
const recordAll = (process.env.RECEIVER_RECORD || 'all') !== 'counts';
const decryptEvery = Math.max(1, Number(process.env.RECEIVER_DECRYPT_EVERY || 1));
const stats = {requests: 0, statuses: {}, decrypted: 0, decrypt_failures: 0, vapid_failures: 0,
               unanswered: 0, held: 0, distinct_jwts: 0, connections: 0, aborted: 0,
               failures: [], plaintexts: {}, first_ms: 0,
               last_ms: 0};
const byPath = new Map();
// A VAPID JWT is the same for many pushes (the gateway signs once per origin and hour): its
// signature is verified once; aud and exp are checked every time.
const verifiedJwts = new Map();

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
  if (!verifiedJwts.has(jwt + ' ' + k)) {
    const key = crypto.createPublicKey({
      key: {kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33))},
      format: 'jwk',
    });
    const good = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]),
                               {key, dsaEncoding: 'ieee-p1363'}, Buffer.from(parts[2], 'base64url'));
    if (!good) return {ok: false, why: 'signature does not verify'};
    if (verifiedJwts.size > 10000) verifiedJwts.clear();
    verifiedJwts.set(jwt + ' ' + k, true);
    ++stats.distinct_jwts;
  }
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
  req.on('error', () => {});
  res.on('error', () => {});
  if (req.method === 'GET' && req.url.startsWith('/stats')) {
    const out = Object.assign({}, stats);
    if (req.url.includes('paths=1')) out.by_path = Object.fromEntries(byPath);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
    return;
  }
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
    // A request cut off before its whole body arrived (the gateway was killed while sending it)
    // is no push: counted apart, never as a request.
    const length = Number(req.headers['content-length']);
    if (req.aborted || (req.headers['content-length'] !== undefined && body.length !== length)) {
      ++stats.aborted;
      if (stats.failures.length < 20) {
        stats.failures.push({path: req.url, why: 'aborted', bytes: body.length, length,
                             at_ms: Date.now(), req_aborted: req.aborted,
                             seen: byPath.get(req.url) || 0});
      }
      return;
    }
    const n = ++stats.requests;
    stats.last_ms = Date.now();
    if (n === 1) stats.first_ms = stats.last_ms;
    byPath.set(req.url, (byPath.get(req.url) || 0) + 1);
    if (n % decryptEvery === 0 || recordAll) {
      record.vapid = verifyVapid(req.headers['authorization'], 'https://127.0.0.1:' + port);
      if (!record.vapid.ok) {
        ++stats.vapid_failures;
        if (stats.failures.length < 20) stats.failures.push({path: req.url, why: record.vapid.why});
      }
      try {
        record.plaintext = ece.decrypt(body, {version: 'aes128gcm', privateKey: ecdh,
                                              authSecret: b64url(auth)}).toString('utf8');
        ++stats.decrypted;
        stats.plaintexts[record.plaintext] = (stats.plaintexts[record.plaintext] || 0) + 1;
      } catch (e) {
        record.decrypt_error = String(e.message || e);
        ++stats.decrypt_failures;
        if (stats.failures.length < 20) {
          stats.failures.push({path: req.url, why: record.decrypt_error, bytes: body.length});
        }
      }
    }
    let status = 201;
    if (req.url.startsWith('/gone/')) status = 410;
    if (req.url.startsWith('/busy/') && !busySeen.has(req.url)) {
      busySeen.add(req.url);
      status = 429;
      res.setHeader('retry-after', '1');
    }
    record.status = status;
    stats.statuses[status] = (stats.statuses[status] || 0) + 1;
    if (recordAll) {
      fs.appendFileSync(path.join(stateDir, 'received.jsonl'), JSON.stringify(record) + '\n');
    }
    const answer = () => {
      const gone = res.stream ? res.stream.destroyed : (!res.socket || res.socket.destroyed);
      if (gone) {
        ++stats.unanswered;  // the gateway went away (killed) before this answer
        return;
      }
      res.statusCode = status;
      res.end();
    };
    if (delayMs > 0) {
      ++stats.held;
      setTimeout(() => { --stats.held; answer(); }, delayMs);
    } else {
      answer();
    }
  });
});

server.on('secureConnection', () => { ++stats.connections; });

server.listen(0, '127.0.0.1', () => {
  const info = {port: server.address().port, p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth)};
  fs.writeFileSync(path.join(stateDir, 'subscription.json.tmp'), JSON.stringify(info));
  fs.renameSync(path.join(stateDir, 'subscription.json.tmp'),
                path.join(stateDir, 'subscription.json'));
});
process.on('SIGTERM', () => process.exit(0));
