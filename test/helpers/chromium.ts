import { existsSync } from 'node:fs';
import { type Browser, type BrowserServer, chromium } from 'playwright-core';

/** The Chromium to drive: `PS_CHROMIUM`, else Debian's package (`apt-get install chromium`). */
export function chromiumPath(): string {
  const { PS_CHROMIUM: given } = process.env;
  const candidates = given ? [given] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `Chromium is not installed (looked for ${candidates.join(', ')}): install Debian's package with ` +
        '`apt-get install chromium` (.ci/run does), or set PS_CHROMIUM to a Chromium binary',
    );
  }
  return found;
}

/**
 * Starts headless Chromium (a browser server whose process we hold) and connects to it.
 * `close` closes the browser, and kills its process by pid if it lingers.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const executablePath = chromiumPath();
  const server: BrowserServer = await chromium.launchServer({
    executablePath,
    headless: true,
    // The sandbox needs user namespaces, which a root shell in a container lacks.
    args: ['--no-sandbox'],
    timeout: 60_000,
  });
  const close = async () => {
    await Promise.race([server.close(), new Promise((r) => setTimeout(r, 10_000))]);
    const child = server.process();
    if (child.exitCode === null && child.signalCode === null) await server.kill();
  };
  try {
    return { browser: await chromium.connect(server.wsEndpoint(), { timeout: 30_000 }), close };
  } catch (err) {
    await close();
    throw err;
  }
}
