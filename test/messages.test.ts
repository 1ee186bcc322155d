import t from 'tap'
import { build } from './helpers/app'
import { testRejections } from './helpers/rejections'
import { publishAlert } from './helpers/http'

t.test('POST /message stamps, stores and returns the chat message', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/message', payload: { sender: 'Jose', message: 'Please check the back door' } })
  t.equal(res.statusCode, 200)
  const chat = res.json()
  t.same(Object.keys(chat), ['id', 'timestamp', 'type', 'sender', 'message'])
  t.match(chat, { type: 'chat', sender: 'Jose', message: 'Please check the back door' })

  for (const url of ['/message', '/message/']) {
    const history = await app.inject(url)
    t.equal(history.statusCode, 200, url)
    t.same(history.json(), { chatMessages: [chat], count: 1 }, url)
  }
})

t.test('POST /message/ (trailing slash) publishes the same way', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/message/', payload: { sender: 'a', message: 'b' } })
  t.equal(res.statusCode, 200)
  t.equal((await app.inject('/message')).json().count, 1)
})

t.test('chat and alerts are kept apart; client-set fields are dropped', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 2, REPLAY_WINDOW: 2 })
  await publishAlert(app, 'a')
  for (const m of ['c1', 'c2', 'c3']) {
    await app.inject({ method: 'POST', url: '/message', payload: { sender: 's', message: m, type: 'alert', id: 'x', location: 'l' } })
  }
  const chat = (await app.inject('/message')).json()
  t.equal(chat.count, 2)
  t.same(chat.chatMessages.map((c: { message: string }) => c.message), ['c2', 'c3'])
  t.ok(chat.chatMessages.every((c: Record<string, unknown>) => c.type === 'chat' && c.id !== 'x' && !('location' in c)))
  t.equal((await app.inject('/alerts/history')).json().count, 1)
})

testRejections(t, '/message', { sender: 200, message: 1000 }, '/message', { chatMessages: [], count: 0 })
