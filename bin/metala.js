#!/usr/bin/env node
// Shim with no logic: the CLI lives in src/cli/main.ts (compiled to dist/) so tests can import it.
import '../dist/src/cli/main.js';
