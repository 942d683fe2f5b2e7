import { mount } from 'svelte'
import './app.css'
import App from './App.svelte'
import { api } from './lib/api.ts'
import { session } from './lib/session.svelte.ts'

// A 401 from any page means the session is gone: show the login in its place.
api.onUnauthorized = () => session.lost()

mount(App, { target: document.getElementById('app')! })
