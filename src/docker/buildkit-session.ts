// A BuildKit session for one build: the engine calls back into it (gRPC over the hijacked
// `POST /session` connection) for registry credentials, e.g. to import a cache image from a
// private registry. Sessions are how `docker buildx build` and `DOCKER_BUILDKIT=1 docker build`
// hand credentials to the engine; sources: moby/buildkit session/manager.go (headers),
// session/grpc.go (health monitor), session/auth/auth.proto (Credentials).
//
// Why not dockerode's own session (buildImage with version "2"): it serves no gRPC health
// service, and Engine 20.10's BuildKit checks the session's health every second and drops it
// on the first failure, so a cache import that starts more than a second into the build finds
// "no active session"; and it answers every host's credential request with the one password,
// including hosts the password is not meant for (a base image on Docker Hub). This session
// answers the health check and gives the credentials only to the registry they belong to.
import type Docker from 'dockerode';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { RegistryAuth } from '../builder/registry.js';

// Only the messages this session exchanges (field names and numbers as in buildkit's
// session/auth/auth.proto and grpc's health/v1/health.proto); protobufjs does the encoding.
const root = protobuf.Root.fromJSON({
  nested: {
    CredentialsRequest: { fields: { Host: { type: 'string', id: 1 } } },
    CredentialsResponse: { fields: { Username: { type: 'string', id: 1 }, Secret: { type: 'string', id: 2 } } },
    HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
    HealthCheckResponse: { fields: { status: { type: 'int32', id: 1 } } },
  },
});
const SERVING = 1;

function unary<Req extends object, Res extends object>(path: string, req: protobuf.Type, res: protobuf.Type): grpc.MethodDefinition<Req, Res> {
  return {
    path, requestStream: false, responseStream: false,
    requestSerialize: (v: Req) => Buffer.from(req.encode(req.fromObject(v)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b)) as Req,
    responseSerialize: (v: Res) => Buffer.from(res.encode(res.fromObject(v)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b)) as Res,
  };
}

const AUTH_CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

/** The host part of a registry address as BuildKit asks for it ("127.0.0.1:5000", "registry-1.docker.io"). */
export function credentialHost(serveraddress: string): string {
  const host = serveraddress.replace(/^[a-z]+:\/\//i, '').split('/')[0];
  return host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

/**
 * Which credentials answer a request for `host` (pure): the registry's own, or anonymous ({}).
 * Docker Hub is asked for as registry-1.docker.io.
 */
export function credentialsFor(host: string, auth?: RegistryAuth): { Username?: string; Secret?: string } {
  if (!auth) return {};
  return credentialHost(auth.serveraddress) === host ? { Username: auth.username, Secret: auth.password } : {};
}

export interface BuildkitSession {
  /** The session id for the build's `session` query parameter. */
  id: string;
  /** Ends the session (idempotent). */
  close(): void;
}

/**
 * Opens a session on the engine (`POST /session`, upgraded to h2c) that serves
 * `moby.filesync.v1.Auth/Credentials` and `grpc.health.v1.Health/Check`. Rejects when the engine
 * refuses the upgrade (an engine without BuildKit). Close it when the build's stream ends.
 */
export function openBuildkitSession(docker: Docker, auth?: RegistryAuth): Promise<BuildkitSession> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    docker.modem.dial({
      method: 'POST',
      path: '/session',
      hijack: true,
      headers: {
        Upgrade: 'h2c',
        'X-Docker-Expose-Session-Uuid': id,
        'X-Docker-Expose-Session-Name': 'pallet',
        'X-Docker-Expose-Session-Sharedkey': '',
        'X-Docker-Expose-Session-Grpc-Method': [AUTH_CREDENTIALS, HEALTH_CHECK],
      },
      statusCodes: { 101: true, 200: true, 400: 'bad request', 404: 'no such endpoint', 500: 'server error' },
    } as never, (err: Error | null, socket: unknown) => {
      if (err) return reject(err);
      const sock = socket as Duplex;
      const server = new grpc.Server();
      server.addService({
        Credentials: unary(AUTH_CREDENTIALS, root.lookupType('CredentialsRequest'), root.lookupType('CredentialsResponse')),
      } as grpc.ServiceDefinition, {
        Credentials: (call: grpc.ServerUnaryCall<{ Host?: string }, object>, cb: grpc.sendUnaryData<object>) => cb(null, credentialsFor(call.request.Host ?? '', auth)),
      });
      server.addService({
        Check: unary(HEALTH_CHECK, root.lookupType('HealthCheckRequest'), root.lookupType('HealthCheckResponse')),
      } as grpc.ServiceDefinition, {
        Check: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { status: SERVING }),
      });
      server.createConnectionInjector(grpc.ServerCredentials.createInsecure()).injectConnection(sock);
      let closed = false;
      resolve({
        id,
        close: () => {
          if (closed) return;
          closed = true;
          server.forceShutdown();
          sock.destroy();
        },
      });
    });
  });
}
