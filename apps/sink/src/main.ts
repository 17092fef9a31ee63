import { CONFIG, type Config } from '@iks/config';
import { StageServer } from '@iks/stage';
import { bootStage } from '@iks/ops';
import { SinkModule } from './sink.module';

bootStage({
  name: 'sink',
  module: () => SinkModule.forRoot(process.env),
  strategy: (app) => app.get(StageServer),
  http: (app) => {
    const c = app.get<Config>(CONFIG).sink;
    return { port: c.httpPort, host: c.httpHost };
  },
});
