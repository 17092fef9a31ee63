import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { TopicKey } from '@iks/kafka';
import { STAGE_TOPIC } from './on-topic.decorator';
import type { HandlerLookup, StageHandler } from './stage.types';

/** The stage's wiring is wrong (a topic with two handlers, or none): the app must not start. */
export class StageWiringError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'StageWiringError';
  }
}

interface Found {
  readonly owner: string;
  readonly handler: StageHandler<unknown>;
}

/**
 * The handlers of a stage, one per topic: resolves every handler on the given instances. Throws
 * StageWiringError when a topic has two (two handlers would both see, and produce for, the same
 * records).
 */
export function handlersOf(
  instances: Iterable<unknown>,
  topicOf: (fn: unknown) => TopicKey | undefined,
): HandlerLookup {
  const found = new Map<TopicKey, Found[]>();
  const seen = new Set<object>();
  for (const instance of instances) {
    // an alias (useExisting) is the same instance: its methods count once
    if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
    seen.add(instance);
    const proto: unknown = Object.getPrototypeOf(instance);
    if (!proto || proto === Object.prototype) continue;
    for (const name of new MetadataScanner().getAllMethodNames(proto)) {
      const fn = (proto as Record<string, unknown>)[name];
      const key = topicOf(fn);
      if (key === undefined || typeof fn !== 'function') continue;
      const list = found.get(key) ?? [];
      list.push({
        owner: `${instance.constructor.name}.${name}`,
        handler: (fn as StageHandler<unknown>).bind(instance),
      });
      found.set(key, list);
    }
  }
  const twice = [...found]
    .filter(([, list]) => list.length > 1)
    .map(([key, list]) => `${key} (${list.map((f) => f.owner).join(', ')})`);
  if (twice.length > 0)
    throw new StageWiringError(
      `more than one handler for topic ${twice.join('; ')}: each consumed topic has exactly one`,
    );
  return (<K extends TopicKey>(key: K) => found.get(key)?.[0].handler) as HandlerLookup;
}

/** The @OnTopic methods of the context's providers and controllers, discovered at start. */
@Injectable()
export class StageHandlers {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  /** One handler per topic key; throws StageWiringError for a topic with two. */
  lookup(): HandlerLookup {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    return handlersOf(
      wrappers.map((w) => w.instance),
      (fn) =>
        typeof fn === 'function'
          ? this.reflector.get<TopicKey | undefined>(STAGE_TOPIC, fn as () => unknown)
          : undefined,
    );
  }
}
