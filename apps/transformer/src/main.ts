import { StageServer } from '@iks/stage';
import { bootStage } from '@iks/ops';
import { CONFIG, TransformerModule } from './transformer.module';
import type { Config } from '@iks/config';

bootStage({
  name: 'transformer',
  module: () => TransformerModule.forRoot(process.env),
  strategy: (app) => app.get(StageServer),
  http: (app) => {
    const c = app.get<Config>(CONFIG).transformer;
    return { port: c.httpPort, host: c.httpHost };
  },
});
