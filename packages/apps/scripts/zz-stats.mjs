import { BusyPoll } from '@ps/core';
process.on('exit', () => console.error(`pid ${process.pid} busypoll ${JSON.stringify(BusyPoll.shared.stats)}`));
