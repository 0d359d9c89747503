import { z } from 'zod';
import { defineSaga } from 'sagaflow';
import { aborted, deferred } from '../../support/deferred.js';

/** A saga of one stage, 'wait', that holds until the run is cancelled; `entered` resolves once it is inside. */
export function heldUntilCancelled(name: string) {
  const entered = deferred();
  const saga = defineSaga({ name, input: z.object({}) })
    .stage('wait', {
      execute: async ({ signal }) => {
        entered.resolve();
        await aborted(signal);
        throw signal.reason;
      },
    })
    .build();
  return { saga, entered: entered.promise };
}
