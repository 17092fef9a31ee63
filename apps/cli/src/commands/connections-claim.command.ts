import type { INestApplicationContext } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import { CONNECTIONS, ConnectionsModule, type ConnectionDirectory } from '@iks/connections';
import { ErasureModule, SubjectKeys } from '@iks/erasure';
import { ClaimRefusedError, planClaim } from '@iks/ingest';
import { AvroCodec, KAFKA, PRODUCER } from '@iks/kafka';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { EXIT } from './command-args';
import { confirmOrExit, type Prompt } from './confirm';
import type { ConnectionsClaimArgs } from './connections-claim.args';

export interface ConnectionsDeps {
  /** The connections (default: the process's directory, pipeline.connections.v1 and the environment's default connection). */
  readonly connections?: ConnectionDirectory;
  readonly prompt?: Prompt;
}

/**
 * `connections claim <id>`: the webhooks of the connection's workspace that ingest kept while no
 * connection claimed it, copied into the raw topic as that connection (planClaim). Exit 0 when
 * copied or when there is nothing to copy, 1 when the connection is unknown, removed, claims no
 * single workspace, another claim runs or the unclaimed topic does not exist, 2 without --yes
 * off a terminal.
 */
export async function runConnectionsClaim(
  a: ConnectionsClaimArgs,
  config: Config,
  io: CliIo,
  deps: ConnectionsDeps = {},
): Promise<number> {
  const app = await createContext(config, 'cli', ConnectionsModule);
  const connections = deps.connections ?? app.get<ConnectionDirectory>(CONNECTIONS);
  const connection = connections.get(a.connectionId);
  if (!connection) {
    await app.close();
    const known = connections
      .all()
      .map((c) => c.id)
      .join(', ');
    io.stderr(
      `connections claim: no connection "${a.connectionId}" (known: ${known || 'none'}); add it first, then claim its webhooks`,
    );
    return EXIT.failure;
  }
  const kafka = app.get<Kafka>(KAFKA);
  const producer = app.get<Producer>(PRODUCER);
  const codec = app.get(AvroCodec);
  // the people's keys the copies are sealed with (docs/ERASURE.md), in a context of their own: made
  // only once there is something to copy (a refusal needs none)
  let keysApp: INestApplicationContext | undefined;
  let subjectKeys: SubjectKeys | undefined;
  const keys = async (): Promise<SubjectKeys> => {
    keysApp = await createContext(config, 'cli', ErasureModule);
    await keysApp.get(AvroCodec).registerAll();
    await keysApp.get<Producer>(PRODUCER).connect();
    const made = keysApp.get(SubjectKeys);
    subjectKeys = made;
    await made.start();
    return made;
  };
  const admin = kafka.admin();
  try {
    await admin.connect();
    await codec.registerAll();
    const plan = await planClaim({ kafka, admin, producer, codec }, config, connection, {
      fromBeginning: a.fromBeginning,
    });
    const since = a.fromBeginning ? 'from the beginning' : `new since the last claim (group ${plan.groupId})`;
    io.stdout(
      `connections claim: ${plan.read} kept webhook(s) in ${plan.unclaimedTopic} ${since}; ${plan.mine} of workspace ${plan.appId}`,
    );
    if (plan.undecodable > 0)
      io.stdout(`connections claim: ${plan.undecodable} record(s) could not be decoded and are left where they are`);
    if (plan.mine === 0) {
      io.stdout(`connections claim: nothing to copy for connection ${plan.connectionId}; copied 0`);
      await plan.run(); // what was read is passed over (other workspaces' records are theirs to claim)
      return EXIT.ok;
    }
    io.stdout(`plan: copy ${plan.mine} to ${plan.rawTopic} as connection ${plan.connectionId}`);
    const stop = await confirmOrExit('connections claim', a.yes, io, deps.prompt);
    if (stop !== null) return stop;
    const copied = await plan.run(await keys());
    io.stdout(
      `connections claim: copied ${copied} webhook(s) of workspace ${plan.appId} to ${plan.rawTopic} as connection ${plan.connectionId}; ` +
        'the transformer maps them (a webhook copied twice maps to the same unique_ids: nothing is sent twice)',
    );
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ClaimRefusedError) {
      io.stderr(`connections claim: ${e.message}`);
      return EXIT.failure;
    }
    throw e;
  } finally {
    await admin.disconnect().catch(() => undefined);
    await subjectKeys?.stop().catch(() => undefined);
    await keysApp
      ?.get<Producer>(PRODUCER)
      .disconnect()
      .catch(() => undefined);
    await keysApp?.close();
    await producer.disconnect().catch(() => undefined);
    await app.close();
  }
}
