// Writes the README's SDK and embed examples (the ```ts blocks under "## Connect a device (SDK)"
// and "## Embed the broker") as readme-sdk.ts and readme-embed.ts, changing only port 8080.
import { readFileSync, writeFileSync } from 'node:fs';

const [readmePath, sdkPort, embedPort] = process.argv.slice(2);
const readme = readFileSync(readmePath, 'utf8');
function example(heading) {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading));
  const block = section && /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README: no ts example under "## ${heading}"`);
  return block[1];
}
writeFileSync('readme-sdk.ts', example('Connect a device (SDK)').replaceAll(':8080/', `:${sdkPort}/`));
writeFileSync('readme-embed.ts', example('Embed the broker').replaceAll('port: 8080', `port: ${embedPort}`));
