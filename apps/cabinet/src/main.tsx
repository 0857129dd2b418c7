/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
import { render } from 'preact';
import { App } from './ui/App.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
