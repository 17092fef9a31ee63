import { StageServer } from '@iks/stage';
import { bootStage } from '@iks/ops';
import { TransformerModule } from './transformer.module';
import { CONFIG, type Config } from '@iks/config';

bootStage({
  name: 'transformer',
  module: () => TransformerModule.forRoot(process.env),
  strategy: (app) => app.get(StageServer),
  http: (app) => {
    const c = app.get<Config>(CONFIG).transformer;
    return { port: c.httpPort, host: c.httpHost };
  },
});
