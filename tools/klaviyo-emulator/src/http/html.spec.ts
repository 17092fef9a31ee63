import { html } from './html';

describe('html', () => {
  it('escapes every interpolation unless it is html-built', () => {
    const name = `<img src=x onerror="alert('1')">&\``;
    const out =
      html`<p title="${name}">${name}</p>${html`<b>${'a<b'}</b>`}${['<i>', html`<u>ok</u>`]}${undefined}${false}`.value;
    expect(out).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;</p><b>a&lt;b</b>&lt;i&gt;<u>ok</u>',
    );
  });
});
