/** The messages the SMTP catcher holds for one recipient (its web API: MAIL_UI_URL). */
export async function mailTo(email: string): Promise<{ to: string[]; subject: string; text: string }[]> {
  const all = (await (await fetch(`${process.env.MAIL_UI_URL}/messages`)).json()) as { to: string[]; subject: string; text: string }[];
  return all.filter((m) => m.to.includes(email));
}
