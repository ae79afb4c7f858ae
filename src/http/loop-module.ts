/**
 * The module every loop thread of a multi-loop HTTP server loads (TcpServer's
 * `module` contract): it imports the app module named in the options and
 * builds this loop's HTTP handlers around it.
 * Thread: one loop thread per call. Owns nothing beyond what it builds.
 */
import type { ServerContext, ServerHandlers } from '../reactor/ServerLoop.js';
import { handlerFromModule, websocketFromModule } from './app-module.js';
import type { BusHandles } from '../ws/pubsub.js';
import { httpHandlers } from './handlers.js';
import { resolveHttpOptions, type AppModule, type HttpOptions } from './options.js';
import { installFastResponse } from './web-response.js';

export interface LoopModuleOptions {
  /** href of the app module. */
  app: string;
  http: HttpOptions;
  /** The server's pub/sub bus (shared memory and eventfds). */
  bus: BusHandles;
}

export default async function setup(ctx: ServerContext): Promise<ServerHandlers> {
  const o = ctx.options as LoopModuleOptions;
  // Before the app loads, so Responses it builds at module load are fast ones too (a module
  // with a native handler gets a faithful Response class it may never use).
  if (o.http.fastResponse !== false) installFastResponse();
  const mod = (await import(o.app)) as AppModule;
  const onError = typeof mod.onError === 'function' ? mod.onError : undefined;
  return httpHandlers(ctx, handlerFromModule(mod, o.app), resolveHttpOptions({ ...o.http, onError }), websocketFromModule(mod), o.bus);
}
