import { gather, readSlab0, scatter } from './sum-handler.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

/** Last writer wins: a push overwrites the stored values (`stored[k] = pushed[k]`); a pull reads them. */
export function assignHandler(opts: TableHandlerOptions = {}): TableHandler {
  return tableHandler(
    {
      name: 'assign',
      states: 1,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        for (let j = 0; j < len; j++) w[off + j] = vals[vi + j]!;
      },
      read: readSlab0,
      applyScattered: (slabs, offsets, width, vals) => scatter(slabs, offsets, width, vals, false),
      readScattered: gather,
    },
    opts,
  );
}
