import { uncheckedRun } from './src/bench/uncheckedSpeed';
import { geometry } from './models/machine/geometry';
uncheckedRun(geometry('realistic'), 150, 1, 60);
