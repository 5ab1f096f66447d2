/** Limits on what a rule may ask of the engine, checked when rules load. */
import type { BindingNode } from '../pattern/bindings.js';

/**
 * Which observation expressions an event satisfies is kept as bits of one 31-bit number (also
 * in the stored state), so a correlation rule may have at most this many. A single-observation
 * rule may have more (`[a] OR [b] OR …`): its expressions past the last bit share that bit,
 * which only says "some expression holds".
 */
export const MAX_CORRELATED_OBSERVATIONS = 31;

/**
 * Why the streaming engine cannot run a pattern, if it cannot: a correlation pattern (AND,
 * FOLLOWEDBY, REPEATS) with more observation expressions than its state can tell apart.
 */
export function streamingLimitError(tree: BindingNode, observations: number): string | undefined {
  if (isSingleObservation(tree) || observations <= MAX_CORRELATED_OBSERVATIONS) return undefined;
  return `a correlation pattern (AND, FOLLOWEDBY, REPEATS) may have at most ${MAX_CORRELATED_OBSERVATIONS} observation expressions; this one has ${observations}`;
}

export function isSingleObservation(node: BindingNode): boolean {
  if (node.kind === 'leaf') return true;
  if (node.kind === 'or') return isSingleObservation(node.left) && isSingleObservation(node.right);
  if (node.kind === 'within' || node.kind === 'startStop') return isSingleObservation(node.expression);
  return false;
}
