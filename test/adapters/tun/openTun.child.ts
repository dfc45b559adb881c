/**
 * Child process for linuxTun.test.ts: tries `openLinuxTun(JSON.parse(argv[2]))` and prints one
 * line `OPENRESULT {"ok": bool, "name"?, "code"?, "message"?}`. The test runs it as an
 * unprivileged user to see the error a non-root start-up gets.
 */
import { openLinuxTun } from '../../../adapters/tun/index.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof openLinuxTun>[0];
try {
  const tun = await openLinuxTun(options);
  console.log(`OPENRESULT ${JSON.stringify({ ok: true, name: tun.name })}`);
  await tun.close();
} catch (error) {
  const e = error as Error & { code?: string };
  console.log(`OPENRESULT ${JSON.stringify({ ok: false, code: e.code, message: e.message })}`);
}
