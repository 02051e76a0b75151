// FCM (HTTP v1 with its OAuth 2 token endpoint) and APNs for the tests, with Node's http2 and
// crypto only: HTTPS on 127.0.0.1, HTTP/2 only (APNs speaks nothing else). Every request's JWT is
// verified against the public keys the test made with openssl, and its path, headers and body
// are checked against the providers' documented shapes; a request that does not pass is answered
// 400 with the problems, and recorded.
//
//   node providers.js <config.json>
//
// config.json: {cert, key, state_dir, fcm: {public_key, client_email, project_id},
//               apns: {public_key, team_id, key_id, topic}}.
// Writes <state_dir>/ports.json ({fcm, apns}) once both listen, and one JSON line per request to
// <state_dir>/received.jsonl (flat fields: service, path, http_version, status, problems, ...).
//
// What the device token asks for (FCM: message.token; APNs: the path's token):
//   ok...      delivered (FCM 200 {name}; APNs 200 with apns-id)
//   gone...    FCM 404 UNREGISTERED; APNs 410 Unregistered
//   unreg...   FCM 400 INVALID_ARGUMENT naming UNREGISTERED; APNs 400 BadDeviceToken
//   busy...    FCM 503, APNs 429, with Retry-After: 1, the first time; then delivered
//   revoke...  FCM: the access token is revoked and 401 answered the first time; APNs: 403
//              ExpiredProviderToken the first time (and that JWT refused from then on)
//   hang...    never answered
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http2 = require('http2');
const path = require('path');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const stateDir = config.state_dir;
const fcmKey = crypto.createPublicKey(fs.readFileSync(config.fcm.public_key));
const apnsKey = crypto.createPublicKey(fs.readFileSync(config.apns.public_key));
const seen = new Set();  // tokens answered once already (busy, revoke)
const validAccess = new Set();
const refusedJwts = new Set();
let tokenRequests = 0;
let messages = 0;

function record(r) {
  fs.appendFileSync(path.join(stateDir, 'received.jsonl'), JSON.stringify(r) + '\n');
}

// A compact JWT verified with `key`: {header, claims} or throws with the reason.
function verifyJwt(jwt, key, alg) {
  const parts = (jwt || '').split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  if (header.alg !== alg) throw new Error('alg ' + header.alg + ', not ' + alg);
  const data = Buffer.from(parts[0] + '.' + parts[1]);
  const sig = Buffer.from(parts[2], 'base64url');
  const good = alg === 'ES256'
    ? crypto.verify('sha256', data, {key, dsaEncoding: 'ieee-p1363'}, sig)
    : crypto.verify('sha256', data, key, sig);
  if (!good) throw new Error('the signature does not verify');
  return {header, claims};
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function answer(res, status, body, headers) {
  res.writeHead(status, Object.assign({'content-type': 'application/json'}, headers || {}));
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function firstTime(key) {
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

// The OAuth 2 token endpoint (RFC 7523 JWT-bearer grant) and FCM's messages:send.
async function fcm(req, res, port) {
  const body = await readBody(req);
  const r = {service: '', path: req.url, method: req.method, http_version: req.httpVersion};
  const problems = [];
  const now = Date.now() / 1000;
  if (req.url === '/token') {
    r.service = 'token';
    tokenRequests++;
    r.token_requests = tokenRequests;
    const form = new URLSearchParams(body);
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
      problems.push('content-type ' + req.headers['content-type']);
    }
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      problems.push('grant_type ' + form.get('grant_type'));
    }
    try {
      const {header, claims} = verifyJwt(form.get('assertion'), fcmKey, 'RS256');
      if (header.typ !== 'JWT') problems.push('typ ' + header.typ);
      if (claims.iss !== config.fcm.client_email) problems.push('iss ' + claims.iss);
      if (claims.scope !== 'https://www.googleapis.com/auth/firebase.messaging') {
        problems.push('scope ' + claims.scope);
      }
      const aud = 'https://127.0.0.1:' + port + '/token';
      if (claims.aud !== aud) problems.push('aud ' + claims.aud + ', not ' + aud);
      if (!(Math.abs(claims.iat - now) < 60)) problems.push('iat ' + claims.iat);
      if (claims.exp !== claims.iat + 3600) problems.push('exp ' + claims.exp);
    } catch (e) {
      problems.push('assertion: ' + e.message);
    }
    r.problems = problems.join('; ');
    if (problems.length) {
      r.status = 400;
      record(r);
      return answer(res, 400, {error: 'invalid_grant', error_description: r.problems});
    }
    const access = 'fcm-access-' + tokenRequests + '-' + crypto.randomBytes(6).toString('hex');
    validAccess.add(access);
    r.status = 200;
    r.issued = access;
    record(r);
    return answer(res, 200, {access_token: access, expires_in: 3599, token_type: 'Bearer'});
  }
  r.service = 'fcm';
  const want = '/v1/projects/' + config.fcm.project_id + '/messages:send';
  if (req.url !== want) problems.push('path ' + req.url + ', not ' + want);
  if (req.method !== 'POST') problems.push('method ' + req.method);
  const auth = req.headers['authorization'] || '';
  const access = auth.startsWith('Bearer ') ? auth.substring(7) : '';
  r.access_token = access;
  if (!(req.headers['content-type'] || '').startsWith('application/json')) {
    problems.push('content-type ' + req.headers['content-type']);
  }
  let m = {};
  try {
    m = JSON.parse(body).message || {};
  } catch (e) {
    problems.push('body is not JSON');
  }
  const token = m.token || '';
  r.token = token;
  r.title = (m.notification || {}).title;
  r.body = (m.notification || {}).body;
  const data = m.data || {};
  for (const k of Object.keys(data)) {
    if (typeof data[k] !== 'string') problems.push('data.' + k + ' is not a string');
  }
  r.data_message = data.message;
  r.data_topic = data.topic;
  r.data_language = data.language;
  r.data_deep_link = data.deep_link;
  const android = m.android || {};
  r.priority = android.priority;
  r.collapse_key = android.collapse_key;
  r.ttl = android.ttl;
  if (!token) problems.push('no message.token');
  if (!r.title) problems.push('no notification.title');
  if (!['high', 'normal'].includes(android.priority)) problems.push('android.priority');
  if (android.ttl !== '86400s') problems.push('android.ttl ' + android.ttl);
  if (token.startsWith('hang')) {
    r.status = 0;
    record(r);
    return;  // never answered
  }
  if (problems.length) {
    r.problems = problems.join('; ');
    r.status = 400;
    record(r);
    return answer(res, 400, {error: {code: 400, message: r.problems, status: 'INVALID_ARGUMENT'}});
  }
  r.problems = '';
  if (!validAccess.has(access) || (token.startsWith('revoke') && firstTime(token))) {
    validAccess.delete(access);
    r.status = 401;
    record(r);
    return answer(res, 401, {error: {code: 401, status: 'UNAUTHENTICATED'}});
  }
  const fcmError = (status, code, errorCode) => answer(res, status, {error: {
    code: status, message: errorCode, status: code,
    details: [{'@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode}]}});
  if (token.startsWith('gone')) {
    r.status = 404;
    record(r);
    return fcmError(404, 'NOT_FOUND', 'UNREGISTERED');
  }
  if (token.startsWith('unreg')) {
    r.status = 400;
    record(r);
    return fcmError(400, 'INVALID_ARGUMENT', 'UNREGISTERED');
  }
  if (token.startsWith('busy') && firstTime(token)) {
    r.status = 503;
    record(r);
    res.writeHead(503, {'content-type': 'application/json', 'retry-after': '1'});
    return res.end(JSON.stringify({error: {code: 503, status: 'UNAVAILABLE'}}));
  }
  r.status = 200;
  record(r);
  messages++;
  return answer(res, 200, {name: 'projects/' + config.fcm.project_id + '/messages/' + messages});
}

async function apns(req, res) {
  const body = await readBody(req);
  const r = {service: 'apns', path: req.url, method: req.method, http_version: req.httpVersion};
  const problems = [];
  const m = /^\/3\/device\/([^/?#]+)$/.exec(req.url);
  const token = m ? decodeURIComponent(m[1]) : '';
  r.token = token;
  if (!m) problems.push('path ' + req.url);
  if (req.method !== 'POST') problems.push('method ' + req.method);
  const auth = req.headers['authorization'] || '';
  const jwt = auth.startsWith('bearer ') ? auth.substring(7) : '';
  r.jwt = jwt;
  try {
    const {header, claims} = verifyJwt(jwt, apnsKey, 'ES256');
    if (header.kid !== config.apns.key_id) problems.push('kid ' + header.kid);
    if (claims.iss !== config.apns.team_id) problems.push('iss ' + claims.iss);
    const age = Date.now() / 1000 - claims.iat;
    if (!(age > -60 && age < 3600)) problems.push('iat ' + claims.iat);
  } catch (e) {
    problems.push('provider token: ' + e.message);
  }
  r.topic = req.headers['apns-topic'];
  r.push_type = req.headers['apns-push-type'];
  r.priority = req.headers['apns-priority'];
  r.expiration = req.headers['apns-expiration'];
  r.collapse_id = req.headers['apns-collapse-id'];
  if (r.topic !== config.apns.topic) problems.push('apns-topic ' + r.topic);
  if (r.push_type !== 'alert') problems.push('apns-push-type ' + r.push_type);
  if (!['10', '5'].includes(r.priority)) problems.push('apns-priority ' + r.priority);
  if (!/^[0-9]+$/.test(r.expiration || '')) problems.push('apns-expiration ' + r.expiration);
  if (!r.collapse_id || r.collapse_id.length > 64) problems.push('apns-collapse-id');
  try {
    const p = JSON.parse(body);
    const alert = (p.aps || {}).alert || {};
    r.title = alert.title;
    r.body = alert.body;
    r.message = p.message;
    r.deep_link = p.deep_link;
    if (!alert.title) problems.push('no aps.alert.title');
  } catch (e) {
    problems.push('body is not JSON');
  }
  if (token.startsWith('hang')) {
    r.status = 0;
    record(r);
    return;
  }
  const fail = (status, reason, headers) => {
    r.status = status;
    r.reason = reason;
    record(r);
    answer(res, status, {reason}, headers);
  };
  r.problems = problems.join('; ');
  if (problems.length) return fail(400, 'BadRequest:' + r.problems);
  if (refusedJwts.has(jwt)) return fail(403, 'ExpiredProviderToken');
  if (token.startsWith('revoke') && firstTime(token)) {
    refusedJwts.add(jwt);
    return fail(403, 'ExpiredProviderToken');
  }
  if (token.startsWith('gone')) return fail(410, 'Unregistered');
  if (token.startsWith('unreg')) return fail(400, 'BadDeviceToken');
  if (token.startsWith('busy') && firstTime(token)) {
    return fail(429, 'TooManyRequests', {'retry-after': '1'});
  }
  r.status = 200;
  record(r);
  res.writeHead(200, {'apns-id': crypto.randomUUID()});
  res.end();
}

const tls = {cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key)};
const fcmServer = http2.createSecureServer(tls);
fcmServer.on('request', (req, res) => fcm(req, res, fcmServer.address().port));
const apnsServer = http2.createSecureServer(tls);
apnsServer.on('request', (req, res) => apns(req, res));
let listening = 0;
const ready = () => {
  if (++listening < 2) return;
  const ports = {fcm: fcmServer.address().port, apns: apnsServer.address().port};
  fs.writeFileSync(path.join(stateDir, 'ports.json.tmp'), JSON.stringify(ports));
  fs.renameSync(path.join(stateDir, 'ports.json.tmp'), path.join(stateDir, 'ports.json'));
};
fcmServer.listen(0, '127.0.0.1', ready);
apnsServer.listen(0, '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
