// The test OTLP receiver as a container's process: test/e2e/compose-stack.test.ts runs it as the
// stack's collector (deploy/compose/tracing.yml) in the control-plane image, this directory mounted
// read-only. It listens on every interface of the container, port 4318 (OTLP/HTTP's), and keeps every
// span it decodes for GET /spans. Arguments (the collector service's `--config FILE`) are ignored.
import { startOtlpReceiver } from './otlp-receiver.ts';

const receiver = await startOtlpReceiver({ host: '0.0.0.0', port: 4318 });
process.stdout.write(`OTLP receiver on ${receiver.url.replace('127.0.0.1', '0.0.0.0')}\n`);
process.on('SIGTERM', () => void receiver.close().then(() => process.exit(0)));
