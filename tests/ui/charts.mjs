// Shared by the browser e2e and the page-load benchmark.

/** Waits until every shown chart has drawn its latest option (ECharts' `finished`, exposed as
 *  `data-rendered="1"` on the chart element), then for the next paint. */
export async function painted(page, timeout) {
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('.chart')].every(
        (c) => c.closest('[hidden]') !== null || c.getAttribute('data-rendered') === '1',
      ),
    null,
    { timeout },
  );
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}
