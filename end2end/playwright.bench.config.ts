import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// Benchmarks in the browser (scripts/bench.sh), never part of `make test`.
export default defineConfig({ ...base, testDir: "./bench", timeout: 300_000 });
