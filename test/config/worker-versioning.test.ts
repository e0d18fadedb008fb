import { loadConfig } from '../../config';
import { bundleBuildId, deploymentOptions } from '../../workers/versioning';

const base = { ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' } as const;

describe('config: the worker deployment version', () => {
  it('is on by default, named after the task queue, PINNED, and promotes itself only when the deployment has no current version', () => {
    const { workerVersioning } = loadConfig({ ...base, TEMPORAL_TASK_QUEUE: 'shop' });
    expect(workerVersioning).toEqual({ enabled: true, deploymentName: 'shop', buildId: undefined, defaultBehavior: 'PINNED', setCurrent: 'if-none' });
  });

  it('in dev a restarted worker takes over; production waits for the operator unless told otherwise', () => {
    expect(loadConfig({ ORDERLY_MODE: 'dev' }).workerVersioning.setCurrent).toBe('always');
    expect(loadConfig({ ...base, TEMPORAL_SET_CURRENT_VERSION: 'never' }).workerVersioning.setCurrent).toBe('never');
  });

  it('a build id with a space or a slash is refused at start-up', () => {
    expect(() => loadConfig({ ...base, ORDERLY_BUILD_ID: 'a b' })).toThrow();
    expect(() => loadConfig({ ...base, ORDERLY_BUILD_ID: 'a/b' })).toThrow();
    expect(loadConfig({ ...base, ORDERLY_BUILD_ID: 'git-1a2b3c.4' }).workerVersioning.buildId).toBe('git-1a2b3c.4');
  });

  it('the default build id follows the workflow code: same bundle, same id; one byte changed, another id', () => {
    expect(bundleBuildId('code')).toBe(bundleBuildId('code'));
    expect(bundleBuildId('code')).not.toBe(bundleBuildId('code '));
  });

  it('TEMPORAL_WORKER_VERSIONING=false gives an unversioned worker', () => {
    expect(deploymentOptions(loadConfig({ ...base, TEMPORAL_WORKER_VERSIONING: 'false' }), 'b1')).toBeUndefined();
    expect(deploymentOptions(loadConfig({ ...base, TEMPORAL_TASK_QUEUE: 'shop' }), 'b1')).toEqual({
      version: { deploymentName: 'shop', buildId: 'b1' },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'PINNED',
    });
  });
});
