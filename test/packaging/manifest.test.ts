// What package.json promises about packaging: the Getting Started walkthrough, the icons.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string; altText?: string };
  completionEvents?: string[];
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  icon: string;
  contributes: {
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
    viewsContainers: { activitybar: { icon: string }[] };
    walkthroughs: { id: string; title: string; description: string; steps: Step[] }[];
  };
};
const commands = new Set(pkg.contributes.commands.map((c) => c.command));
const views = new Set(Object.values(pkg.contributes.views).flat().map((v) => v.id));
/** Contributed commands, plus the `<view>.focus` command VS Code adds for each view. */
const knownCommand = (id: string) => commands.has(id) || (id.endsWith('.focus') && views.has(id.slice(0, -'.focus'.length)));

describe('Getting Started walkthrough', () => {
  const walkthroughs = pkg.contributes.walkthroughs;

  it('takes the user from a board to a measured model in about five steps', () => {
    assert.equal(walkthroughs.length, 1);
    const [walkthrough] = walkthroughs;
    assert.ok(walkthrough.id && walkthrough.title && walkthrough.description);
    assert.ok(walkthrough.steps.length >= 4 && walkthrough.steps.length <= 7, `${walkthrough.steps.length} steps`);
    const all = walkthrough.steps.map((s) => s.description).join('\n');
    for (const command of ['cpml.startVirtualPico', 'cpml.convertModel', 'cpml.inspectModel', 'cpml.deployModel', 'cpml.openMonitor']) {
      assert.ok(all.includes(`(command:${command})`), `a step offers ${command}`);
    }
    assert.equal(new Set(walkthrough.steps.map((s) => s.id)).size, walkthrough.steps.length, 'step ids are unique');
  });

  it('gives every step a markdown page that exists and completion events that can fire', () => {
    for (const step of walkthroughs.flatMap((w) => w.steps)) {
      assert.ok(step.title && step.description, step.id);
      assert.ok(step.media.markdown, `${step.id}: markdown media`);
      assert.match(step.media.markdown, /^walkthrough\/[\w-]+\.md$/);
      assert.ok(existsSync(step.media.markdown), step.media.markdown);
      assert.match(readFileSync(step.media.markdown, 'utf8'), /^# \S/, `${step.media.markdown} starts with a heading`);
      assert.ok(step.completionEvents?.length, `${step.id}: completion events`);
      for (const event of step.completionEvents) {
        const [, type, argument] = /^([^:]+):(.*)$/.exec(event) ?? [];
        assert.ok(['onCommand', 'onView', 'onContext', 'onLink', 'onSettingChanged'].includes(type), `${step.id}: ${event}`);
        if (type === 'onCommand') assert.ok(knownCommand(argument), `${step.id}: ${argument} is a contributed command`);
        if (type === 'onView') assert.ok(views.has(argument), `${step.id}: ${argument} is a contributed view`);
      }
      for (const [, command] of step.description.matchAll(/\]\(command:([\w.]+)\)/g)) {
        assert.ok(knownCommand(command), `${step.id}: button for ${command}, a contributed command`);
      }
    }
  });
});

describe('icons', () => {
  it('has a 128×128 PNG marketplace icon', () => {
    assert.equal(pkg.icon, 'media/icon.png');
    const png = readFileSync(pkg.icon);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
    assert.ok(existsSync('media/icon.svg'), 'its SVG source is kept');
  });

  it('has a monochrome 24×24 activity-bar icon that takes the theme colour', () => {
    for (const icon of new Set(pkg.contributes.viewsContainers.activitybar.map((c) => c.icon))) {
      const svg = readFileSync(icon, 'utf8');
      assert.match(svg, /viewBox="0 0 24 24"/);
      const colours = [...svg.matchAll(/(?:fill|stroke|stop-color|color)\s*[=:]\s*"?([^";\s>]+)/g)].map((m) => m[1]);
      assert.ok(colours.includes('currentColor'), icon);
      assert.deepEqual(colours.filter((c) => !['currentColor', 'none', 'transparent'].includes(c)), [], `${icon}: no hard-coded colours`);
      assert.doesNotMatch(svg, /<(image|script|foreignObject)\b|style=/, `${icon}: plain shapes only`);
    }
  });
});
