/**
 * `npm run bench`: every benchmark in turn, on the compiled output (what users run). Each one
 * verifies correctness before timing and prints ratios against a reference measured in the same
 * run. Pass `--quick` for shorter cells: `npm run bench -- --quick`.
 */
for (const name of ['esp', 'sad', 'spd']) {
  try {
    await import(`./${name}.bench.js`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`${name}.bench`)) continue;
    throw e;
  }
}
