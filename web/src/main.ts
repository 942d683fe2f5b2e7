import { mount } from 'svelte'
import './app.css'
import App from './App.svelte'
import { api } from './lib/api.ts'
import { session } from './lib/session.svelte.ts'
import { live } from './lib/live.svelte.ts'

// A 401 from any page, or the websocket closed for an ended session, means
// the session is gone: show the login in its place.
api.onUnauthorized = () => session.lost()
live.onSessionEnded = () => session.lost()

mount(App, { target: document.getElementById('app')! })
