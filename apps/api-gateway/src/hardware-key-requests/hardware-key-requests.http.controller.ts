import { Controller, Get, Headers, Inject, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { GetHardwareKeyRequestV1, type HardwareKeyRequestView } from '@thk/contracts';
import { metricsRegistry } from '@thk/service-kit';
import type { AuthenticatedUser } from '../auth/authenticator.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';
import { lastEventIdHeader, type ProgressEvent } from '../http/api-routes.js';
import { headerValue, parseId, parseInput } from '../http/validation.js';
import { httpMetrics } from '../http/request-logging.js';
import { eventsFromView, ProgressStream } from './progress-stream.js';

const resumeHeaders = z.object({ 'Last-Event-ID': lastEventIdHeader.optional() });

@Controller('v1/hardware-key-requests')
export class HardwareKeyRequestsHttpController {
  private readonly metrics = httpMetrics(metricsRegistry);

  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get(':requestId')
  async get(@CurrentUser() user: AuthenticatedUser, @Param('requestId') requestId: string): Promise<HardwareKeyRequestView> {
    return this.gw.rpc.call(GetHardwareKeyRequestV1, { userId: user.userId, requestId: parseId(requestId) });
  }

  /**
   * Server-Sent Events, one per state change (`id:` = the progress event's sequence), closed
   * after `completed` or `failed`. A reconnecting client sends `Last-Event-ID` and gets what it
   * missed. The history query comes first: it is the ownership check (another user's request is
   * 404 before any byte of the stream) and the past on a replica that has not seen it.
   */
  @Get(':requestId/events')
  async events(
    @CurrentUser() user: AuthenticatedUser,
    @Param('requestId') rawRequestId: string,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { 'Last-Event-ID': lastEventIdRaw } = parseInput(resumeHeaders, { 'Last-Event-ID': headerValue(headers['last-event-id']) }, 'header');
    const lastEventId = lastEventIdRaw ? Number(lastEventIdRaw) : 0;
    const requestId = parseId(rawRequestId);
    const fetchHistory = async (): Promise<ProgressEvent[]> =>
      eventsFromView(await this.gw.rpc.call(GetHardwareKeyRequestV1, { userId: user.userId, requestId }));
    // This replica's feed holds the request's events from the first on, without a gap (the usual case: a
    // client opens the stream right after its 202): that is the history, with no query to issuance while
    // the saga's first step runs. Anything less (another replica's request, a restart, another user's
    // request: the snapshot is only the owner's) asks issuance, which also answers 404 for a stranger.
    const buffered = this.gw.feed.snapshot(requestId, user.userId);
    const history = buffered.length > 0 && buffered.every((e, i) => e.sequence === i + 1) ? buffered : await fetchHistory();

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'connection': 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    raw.write('retry: 2000\n\n');
    this.metrics.sseStreams.inc();

    const timers: { heartbeat?: NodeJS.Timeout; maxAge?: NodeJS.Timeout } = {};
    let unsubscribe: () => void = () => undefined;
    let finished = false;
    const closeStream = () => stream.close();
    const finish = () => {
      if (finished) return;
      finished = true;
      this.gw.openStreams.delete(closeStream);
      clearInterval(timers.heartbeat);
      clearTimeout(timers.maxAge);
      unsubscribe();
      this.metrics.sseStreams.dec();
    };
    const stream = new ProgressStream(lastEventId, {
      write: (event) => { raw.write(`id: ${event.sequence}\ndata: ${JSON.stringify(event)}\n\n`); },
      end: () => { finish(); raw.end(); },
    }, fetchHistory);
    // The response's `close` (not the request's, which fires once its body is read) tells that the client left.
    raw.once('close', () => { finish(); stream.close(); });

    this.gw.openStreams.add(closeStream);
    // Subscribing and reading the buffer happen in one synchronous step: no event falls between them.
    unsubscribe = this.gw.feed.subscribe(requestId, (event) => stream.offer([event]));
    stream.offer([...this.gw.feed.snapshot(requestId, user.userId), ...history]);
    stream.endIfFinished(history);
    if (stream.isClosed) return;
    timers.heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), this.gw.config.progress.heartbeatMs);
    // A stream does not live forever: the client reconnects with Last-Event-ID and loses nothing.
    timers.maxAge = setTimeout(() => stream.close(), this.gw.config.progress.maxStreamMs);
  }
}
