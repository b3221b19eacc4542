#!/usr/bin/env node
// The compiled CLI (`npm run build` writes dist/; `prepare` runs it on npm ci and npm install).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
