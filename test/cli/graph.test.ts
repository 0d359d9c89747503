import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, type AnySaga } from 'sagaflow';
import { moneyTransfer } from '../../sagas/money-transfer/index.js';
import { orderFulfillment, orderFulfillmentPausing } from '../../sagas/order-fulfillment/index.js';
import { tripBooking } from '../../sagas/trip-booking/index.js';
import { toDot, toMermaid } from '../../src/cli/graph-format.js';
import { actualGraph, expectedGraph, parseDot, parseMermaidFlowchart } from './support/graph-syntax.js';

const awkward = defineSaga({ name: 'awk"ward #1', input: z.object({}) })
  .stage('end', { execute: () => 1, compensate: () => undefined })
  .stage('say "hi" & <b>bye</b>', { after: ['end'], execute: () => 2 })
  .stage('#35; `tick` 100%', { after: ['end'], execute: () => 3, compensate: () => undefined })
  .stage('multi\\nline\\path', { after: ['say "hi" & <b>bye</b>', '#35; `tick` 100%'], execute: () => 4 })
  .build();

const sagas: Array<[string, AnySaga]> = [
  ['money-transfer', moneyTransfer],
  ['trip-booking', tripBooking],
  ['order-fulfillment', orderFulfillment],
  ['order-fulfillment-pausing', orderFulfillmentPausing],
  ['awkward names', awkward],
];

describe('graph output', () => {
  it.each(sagas)('%s: the Mermaid flowchart parses, and its nodes and edges are exactly the DAG', (_name, saga) => {
    expect(actualGraph(parseMermaidFlowchart(toMermaid(saga)))).toEqual(expectedGraph(saga));
  });

  it.each(sagas)('%s: the DOT digraph parses, and its nodes and edges are exactly the DAG', (_name, saga) => {
    const graph = parseDot(toDot(saga));
    expect(graph.name).toBe(saga.name);
    expect(actualGraph(graph)).toEqual(expectedGraph(saga));
  });

  it('draws the trip: fan-out after the quote, fan-in at the payment', () => {
    expect(toMermaid(tripBooking)).toBe(
      [
        'flowchart TD',
        '  %% saga trip-booking v1: rounded stages have a compensation',
        '  s0["quote"]',
        '  s1("flight")',
        '  s2("hotel")',
        '  s3("car")',
        '  s4("payment")',
        '  s0 --> s1',
        '  s0 --> s2',
        '  s0 --> s3',
        '  s1 --> s4',
        '  s2 --> s4',
        '  s3 --> s4',
        '',
      ].join('\n'),
    );
  });

  it('escapes what Mermaid would read as syntax', () => {
    expect(toMermaid(awkward)).toContain('  s1["say #34;hi#34; #38; #60;b#62;bye#60;/b#62;"]');
    expect(toMermaid(awkward)).toContain('  s2("#35;35; #96;tick#96; 100%")');
    // Names hold no control characters (build() refuses them), but backslashes are DOT's escape.
    expect(toDot(awkward)).toContain('  s3 [label="multi\\\\nline\\\\path"];');
  });

  it('the checks reject what is not valid syntax', () => {
    expect(() => parseMermaidFlowchart('graph TD\n  s0["a"]\n')).toThrow("the first line must be 'flowchart TD'");
    expect(() => parseMermaidFlowchart('flowchart TD\n  s0["say "hi""]\n')).toThrow('not a comment, a node declaration');
    expect(() => parseMermaidFlowchart('flowchart TD\n  s0["a#b"]\n')).toThrow('not a comment, a node declaration');
    expect(() => parseMermaidFlowchart('flowchart TD\n  s0["a"]\n  s0 --> s1\n')).toThrow('edge uses undeclared node s1');
    expect(() => parseMermaidFlowchart('flowchart TD\n  s0["a"]\n  s0 -> s0\n')).toThrow('not a comment');
    expect(() => parseDot('digraph "x" {\n  rankdir=TB;\n  node [shape=box];\n  s0 [label="a"b"];\n}\n')).toThrow('not a node statement');
    expect(() => parseDot('digraph "x" {\n  rankdir=TB;\n  node [shape=box];\n  s0 -> s1;\n}\n')).toThrow('edge uses undeclared node s0');
  });
});
