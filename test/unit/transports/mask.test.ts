// Transport settings as the web admin shows them: no password or API key leaves the box.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { maskSecrets, SECRET_MASK } from '../../../server/transports/service.js'

test('secret settings, settings named like secrets and passwords in URLs are masked; the rest is shown', () => {
  assert.deepEqual(maskSecrets('syncthing', { folder: '/srv/sync', folder_id: 'outpost', api: 'http://127.0.0.1:8384', api_key: 'abc123' }), {
    folder: '/srv/sync',
    folder_id: 'outpost',
    api: 'http://127.0.0.1:8384',
    api_key: SECRET_MASK,
  })
  assert.deepEqual(maskSecrets('http', { url: 'https://camp:hunter22@10.0.0.2:8443/', insecure_tls: 'yes' }), { url: `https://camp:${SECRET_MASK}@10.0.0.2:8443/`, insecure_tls: 'yes' })
  assert.deepEqual(maskSecrets('http', { url: 'https://10.0.0.2:8443' }), { url: 'https://10.0.0.2:8443' })
  assert.deepEqual(maskSecrets('pigeon', { password: 'x', token: 'y', name: 'z' }), { password: SECRET_MASK, token: SECRET_MASK, name: 'z' })
})
