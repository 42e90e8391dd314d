/**
 * Baseline: the push handler (and the message URL handler) as a typical tutorial writes it — Express, body-parser-xml, xml2js, the
 * WXBizMsgCrypt steps inline (sha1 signature, AES-256-CBC), and an ioredis SET of the ticket. No
 * de-duplication, no logging, no checks beyond the signature: the floor of "doing the job at all".
 */
import bodyParser from 'body-parser';
import bodyParserXml from 'body-parser-xml';
import crypto from 'node:crypto';
import express from 'express';
import Redis from 'ioredis';
import xml2js from 'xml2js';

bodyParserXml(bodyParser);

const port = Number(process.env.PORT);
const TOKEN = process.env.WECHAT_COMPONENT_TOKEN!;
const AES_KEY = Buffer.from(`${process.env.WECHAT_COMPONENT_AES_KEY}=`, 'base64');
const TICKET_KEY = `${process.env.BASELINE_KEY_ROOT}:naive:component_verify_ticket`;
const MESSAGES_KEY = `${process.env.BASELINE_KEY_ROOT}:naive:messages`;
const redis = new Redis(process.env.REDIS_URL!);

const app = express();
app.use(bodyParser.xml());

app.get('/healthz', (_req, res) => {
  res.send('ok');
});

/** Signature check and decryption as tutorials inline them; undefined when the signature is wrong. */
function openMessage(query: Record<string, string>, encrypt: string): string | undefined {
  const { timestamp, nonce, msg_signature } = query;
  const signature = crypto.createHash('sha1').update([TOKEN, timestamp, nonce, encrypt].sort().join('')).digest('hex');
  if (signature !== msg_signature) return undefined;
  const decipher = crypto.createDecipheriv('aes-256-cbc', AES_KEY, AES_KEY.subarray(0, 16));
  decipher.setAutoPadding(false);
  let decrypted = Buffer.concat([decipher.update(encrypt, 'base64'), decipher.final()]);
  decrypted = decrypted.subarray(0, decrypted.length - decrypted[decrypted.length - 1]!);
  const length = decrypted.readUInt32BE(16);
  return decrypted.subarray(20, 20 + length).toString('utf8');
}

/** What body-parser-xml (xml2js) makes of WeChat's envelope. */
type Envelope = { xml: { Encrypt: string[] } };

app.post('/auth', async (req, res) => {
  const message = openMessage(req.query as Record<string, string>, (req.body as Envelope).xml.Encrypt[0]!);
  if (message === undefined) {
    res.status(401).send('invalid signature');
    return;
  }
  const result = (await xml2js.parseStringPromise(message)) as { xml: { ComponentVerifyTicket: string[] } };
  const ticket = result.xml.ComponentVerifyTicket[0]!;
  await redis.set(TICKET_KEY, ticket);
  res.send('success');
});

// The message URL as tutorials write it: decrypt, parse, append to a stream (no de-duplication).
app.post('/:appid/callback', async (req, res) => {
  const message = openMessage(req.query as Record<string, string>, (req.body as Envelope).xml.Encrypt[0]!);
  if (message === undefined) {
    res.status(401).send('invalid signature');
    return;
  }
  const result = (await xml2js.parseStringPromise(message)) as { xml: Record<string, unknown> };
  await redis.xadd(
    MESSAGES_KEY,
    'MAXLEN',
    '~',
    100000,
    '*',
    'appid',
    req.params.appid,
    'fields',
    JSON.stringify(result.xml),
    'raw',
    message,
  );
  res.send('success');
});

app.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
