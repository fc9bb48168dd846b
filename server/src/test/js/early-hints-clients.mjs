// Node's two HTTP clients against a poll that answers 103 Early Hints before its 200: the global
// fetch (undici) must skip the interim response, and node:http must report it as 'information'.
// Argument: the URL. Prints one JSON line: {"fetch": {...}, "http": {...}}.
import http from 'node:http';

const url = process.argv[2];

const viaFetch = await fetch(url);
const fetchResult = { status: viaFetch.status, body: await viaFetch.json() };

const httpResult = await new Promise((resolve, reject) => {
  const informational = [];
  const req = http.get(url, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => { text += chunk; });
    res.on('end', () => resolve({ informational, status: res.statusCode, body: JSON.parse(text) }));
  });
  req.on('information', (info) => {
    informational.push({ status: info.statusCode, link: info.headers.link ?? null });
  });
  req.on('error', reject);
});

console.log(JSON.stringify({ fetch: fetchResult, http: httpResult }));
