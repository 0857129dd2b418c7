import { Catch, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Nest's default RPC filter turns every unknown error into "Internal server error", which would
 * lose our `AppError.code` and `retryable`. The JetStream transport decides ack/nak/term from them,
 * so this filter hands the original error through untouched.
 */
@Catch()
export class PassthroughRpcExceptionFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
