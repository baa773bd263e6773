// runpm serve: pm2's static file server, run as an app. Configured by pm2's variables:
// PM2_SERVE_PATH (.), PM2_SERVE_PORT (8080), PM2_SERVE_HOST (0.0.0.0), PM2_SERVE_SPA ("true": an
// unknown path serves its base name, else the homepage), PM2_SERVE_HOMEPAGE (/index.html),
// PM2_SERVE_BASIC_AUTH ("true") with _USERNAME and _PASSWORD; a miss serves 404.html when the
// directory has one. Files are sent by serve-static (paths kept inside the root, types, ranges).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import serveStatic from 'serve-static';

const root = path.resolve(process.env.PM2_SERVE_PATH || '.');
const port = Number.parseInt(process.env.PM2_SERVE_PORT ?? '', 10) || 8080;
const host = process.env.PM2_SERVE_HOST || '0.0.0.0';
const spa = process.env.PM2_SERVE_SPA === 'true';
const homepage = process.env.PM2_SERVE_HOMEPAGE || '/index.html';
const auth = process.env.PM2_SERVE_BASIC_AUTH === 'true'
  ? `${process.env.PM2_SERVE_BASIC_AUTH_USERNAME ?? ''}:${process.env.PM2_SERVE_BASIC_AUTH_PASSWORD ?? ''}` : null;

const files = serveStatic(root, {
  index: false,
  fallthrough: true,
  // As pm2's server: browsers may fetch from other origins.
  setHeaders: (res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET');
  },
});

/** Sends `pathname` from the root; calls miss() when there is no such file. */
function send(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, miss: () => void): void {
  req.url = pathname;
  files(req, res, (err?: unknown) => (err ? fail(res, err) : miss()));
}

function fail(res: http.ServerResponse, err: unknown): void {
  const status = (err as { status?: number }).status ?? 500;
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${status} ${http.STATUS_CODES[status] ?? 'Error'}\n`);
}

function notFound(res: http.ServerResponse): void {
  fs.readFile(path.join(root, '404.html'), (err, page) => {
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end(err ? '404 Not Found' : page);
  });
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (auth !== null) {
    const given = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!given || Buffer.from(given[1], 'base64').toString() !== auth) {
      res.writeHead(401, { 'Content-Type': 'text/html', 'WWW-Authenticate': 'Basic realm="Authentication service"' });
      res.end('401 Unauthorized');
      return;
    }
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    fail(res, { status: 400 });
    return;
  }
  const wanted = pathname === '/' || pathname.endsWith('/') ? homepage : pathname;
  send(req, res, encodeURI(wanted), () => {
    if (!spa) return notFound(res);
    // pm2's single-page mode: the file's base name at the root, then the homepage.
    const base = `/${path.posix.basename(wanted)}`;
    const homepageThen = () => (wanted === homepage ? notFound(res) : send(req, res, encodeURI(homepage), () => notFound(res)));
    if (base !== wanted) send(req, res, encodeURI(base), homepageThen);
    else homepageThen();
  });
}

http.createServer(handle).listen(port, host, () => {
  console.log(`Exposing ${root} directory on ${host}:${port}`);
});
