// The release inputs, checked before anything changes: each bad one fails with one message that
// names the input and what to give instead.
import {
  checkAppDir,
  checkHealthInputs,
  checkReleaseInputs,
  releaseId,
  releaseIdFromInstance,
  type RawReleaseInputs
} from '../src/release/settings.js'

const RAW: RawReleaseInputs = {
  releasePath: '.',
  releaseInclude: [],
  appDir: '',
  releaseCommand: '',
  releaseTimeout: '600',
  keepReleases: '5',
  healthUrl: '',
  healthTimeout: '',
  rollbackOnFailure: true
}
const check = (raw: Partial<RawReleaseInputs>) =>
  checkReleaseInputs({ ...RAW, ...raw }, 'fastapi', '/work/repo')

describe('release inputs', () => {
  it('gives the defaults: the workspace top, /opt/<service>, 600 s, five releases', () => {
    expect(check({})).toEqual({
      releasePath: '',
      include: [],
      appDir: '/opt/fastapi',
      command: '',
      timeoutSeconds: 600,
      keep: 5,
      rollbackOnFailure: true
    })
    expect(check({ releasePath: 'app/', appDir: '/srv/api/' })).toMatchObject({
      releasePath: 'app',
      appDir: '/srv/api'
    })
    expect(checkAppDir('', 'fastapi.service')).toBe('/opt/fastapi')
  })

  it('means no release when release-path is empty, and refuses release inputs without it', () => {
    expect(check({ releasePath: '' })).toBeUndefined()
    expect(() => check({ releasePath: '', appDir: '/opt/x' })).toThrow(
      'Input "app-dir" is for a release, but input "release-path" is empty'
    )
  })

  it.each([
    ['opt/fastapi', 'relative'],
    ['/opt/fast api', 'a space'],
    ['/opt/$(reboot)', 'command substitution'],
    ["/opt/it's", 'a quote'],
    ['/opt/../etc', 'a parent segment'],
    ['/opt/fastapi;rm -rf /', 'a command separator'],
    ['/', 'the root itself'],
    ['/opt/-rf', 'a segment that reads as an option']
  ])('refuses app-dir %j (%s)', appDir => {
    expect(() => check({ appDir })).toThrow(
      `Input "app-dir" is ${JSON.stringify(appDir)}: it must be an absolute path on the instance`
    )
  })

  it('refuses a default app-dir that a template unit name would make unsafe', () => {
    expect(() => checkAppDir('', 'fastapi@1')).toThrow(
      'Input "app-dir" is empty, and its default /opt/<service> would be "/opt/fastapi@1"'
    )
  })

  it.each(['..', '../other-repo', '/etc', 'app/../../x'])(
    'refuses release-path %j outside the workspace',
    releasePath => {
      expect(() => check({ releasePath })).toThrow(
        `Input "release-path" is ${JSON.stringify(releasePath)}, which is outside the workspace (/work/repo)`
      )
    }
  )

  it.each([
    ['keep-releases', { keepReleases: '0' }],
    ['keep-releases', { keepReleases: '-1' }],
    ['keep-releases', { keepReleases: 'all' }],
    ['release-timeout', { releaseTimeout: '0' }]
  ])('refuses %s below its range or not a number', (name, raw) => {
    expect(() => check(raw)).toThrow(`Input "${name}" must be a whole number from`)
  })

  it.each(['/etc/passwd', '../secrets/**'])('refuses release-include line %j', line => {
    expect(() => check({ releaseInclude: [line] })).toThrow(
      `Input "release-include" has ${JSON.stringify(line)}`
    )
  })
})

describe('health inputs', () => {
  it('retries for 60 s with a release, and runs once without one unless told', () => {
    expect(checkHealthInputs('', '', true)).toEqual({ url: '', timeoutSeconds: 60 })
    expect(checkHealthInputs('', '', false)).toEqual({ url: '', timeoutSeconds: undefined })
    expect(checkHealthInputs('http://127.0.0.1:8000/health', '30', false)).toEqual({
      url: 'http://127.0.0.1:8000/health',
      timeoutSeconds: 30
    })
  })

  it.each([
    'file:///etc/passwd',
    '-o /tmp/x',
    'http://a b/',
    'http://x/\n-K/etc/shadow',
    'not a url'
  ])('refuses health-url %j', url => {
    expect(() => checkHealthInputs(url, '', true)).toThrow(
      `Input "health-url" is ${JSON.stringify(url)}: give an http:// or https:// URL`
    )
  })
})

describe('release ids', () => {
  it('are the sha’s first 12 characters, the run id and the attempt', () => {
    expect(releaseId('0123456789abcdef0123456789abcdef01234567', '9876543210', '2')).toBe(
      '0123456789ab-9876543210-2'
    )
  })

  it('believe only a plain name from the instance', () => {
    expect(releaseIdFromInstance('releases/0123456789ab-1-1\n')).toBe('0123456789ab-1-1')
    expect(releaseIdFromInstance('')).toBeUndefined()
    for (const hostile of [
      'releases/../../etc',
      'releases/$(reboot)',
      'x\n::set-output name=a::b',
      '.hidden'
    ])
      expect(releaseIdFromInstance(hostile)).toBeUndefined()
  })
})
