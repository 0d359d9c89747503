import { firstValueFrom, toArray, type Observable } from 'rxjs';
import type { SagaEvent } from 'sagaflow';

/** Every event of an observable that completes. */
export function collect(events$: Observable<SagaEvent>): Promise<SagaEvent[]> {
  return firstValueFrom(events$.pipe(toArray()));
}

/** A compact `type:stage` trace of a journal, for order assertions. */
export function trace(events: readonly SagaEvent[]): string[] {
  return events.map((event) => ('stage' in event ? `${event.type}:${event.stage}` : event.type));
}
